"""SQLAlchemy models, one module per area. Import from here."""

from railsaas.models.activity import AuditLog, Email, Notification, OutboxMessage
from railsaas.models.base import Base
from railsaas.models.billing import (
    Plan,
    StripeEvent,
    Subscription,
    TrialClaim,
    UsageMeterReport,
    UsageMetric,
    UsageRollup,
    UsageRollupMark,
)
from railsaas.models.catalog import Template
from railsaas.models.instance import Deployment, Instance
from railsaas.models.ops import AcquisitionSpend, JobFailure
from railsaas.models.railway import RailwayWorkspace
from railsaas.models.tenancy import Invitation, Membership, Tenant
from railsaas.models.uptime import UptimeCheck, UptimeHourly, UptimeMonitor
from railsaas.models.user import ApiToken, RecoveryCode, RefreshToken, TwoFactor, User

__all__ = [
    "AcquisitionSpend",
    "ApiToken",
    "AuditLog",
    "Base",
    "Deployment",
    "Email",
    "Instance",
    "Invitation",
    "JobFailure",
    "Membership",
    "Notification",
    "OutboxMessage",
    "Plan",
    "RailwayWorkspace",
    "RecoveryCode",
    "RefreshToken",
    "StripeEvent",
    "Subscription",
    "Template",
    "Tenant",
    "TrialClaim",
    "TwoFactor",
    "UptimeCheck",
    "UptimeHourly",
    "UptimeMonitor",
    "UsageMeterReport",
    "UsageMetric",
    "UsageRollup",
    "UsageRollupMark",
    "User",
]
