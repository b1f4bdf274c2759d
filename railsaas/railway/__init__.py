"""Talking to Railway: the GraphQL client, its errors and typed results, the status mapping.

Public interface: `railway_client()` / `RailwayClient`, the errors in `errors`, the result
types in `types`, `fill_variables` for a template's serializedConfig, `instance_status` for
the status mapping. See `client.py` for how a request is paced, retried and broken.
"""

from railsaas.railway.client import RailwayClient, railway_client, reset_clients
from railsaas.railway.errors import (
    InvalidRequest,
    NotFound,
    RailwayError,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from railsaas.railway.status import instance_status
from railsaas.railway.templates import MissingVariables, fill_variables

__all__ = [
    "InvalidRequest",
    "MissingVariables",
    "NotFound",
    "RailwayClient",
    "RailwayError",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
    "fill_variables",
    "instance_status",
    "railway_client",
    "reset_clients",
]
