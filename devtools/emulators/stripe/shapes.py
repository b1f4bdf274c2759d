"""How objects look on the wire: the fields Stripe always renders, and the API version.

Stripe renders every field of an object, nullable ones as `null`, never leaving one out.
`DEFAULTS` holds, per object type, the fields the emulator has no behaviour for, with the
value Stripe gives an account that does not use that feature (docs/stripe.md lists them; the
non-null ones are those stripe-python's generated classes type without `Optional`).

`Stripe-Version`: a request may name the API version it wants; a name Stripe does not know
is refused (400, "Invalid Stripe API version: ..."). Responses are shaped by version where
this app could notice: before 2025-03-31.basil a subscription carried
`current_period_start/end` itself and an invoice named its `subscription` at the top level;
from basil on both live only on the items and under `parent.subscription_details`.
"""

from __future__ import annotations

import copy
from typing import Any

from devtools.emulators.stripe.store import API_VERSION, ApiError

# The versions the emulator answers (Stripe's release names), oldest first.
SUPPORTED_VERSIONS = (
    "2024-06-20",
    "2024-09-30.acacia",
    "2024-10-28.acacia",
    "2024-11-20.acacia",
    "2024-12-18.acacia",
    "2025-01-27.acacia",
    "2025-02-24.acacia",
    "2025-03-31.basil",
    "2025-04-30.basil",
    "2025-05-28.basil",
    "2025-06-30.basil",
    "2025-07-30.basil",
    "2025-08-27.basil",
    "2025-09-30.clover",
    "2025-10-29.clover",
    "2026-03-25.dahlia",
    "2026-04-22.dahlia",
    "2026-05-27.dahlia",
    API_VERSION,
)
BASIL = "2025-03-31.basil"

_AUTOMATIC_TAX = {"enabled": False, "liability": None, "disabled_reason": None}

DEFAULTS: dict[str, dict[str, Any]] = {
    "subscription": {
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": _AUTOMATIC_TAX,
        "billing_cycle_anchor_config": None,
        "billing_mode": {
            "type": "flexible",
            "flexible": {"proration_discounts": "included"},
            "updated_at": None,
        },
        "billing_schedules": [],
        "billing_thresholds": None,
        "customer_account": None,
        "days_until_due": None,
        "default_source": None,
        "default_tax_rates": [],
        "discounts": [],
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "test_clock": None,
        "transfer_data": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
    },
    "subscription_item": {"billing_thresholds": None, "discounts": [], "tax_rates": []},
    "invoice": {
        "account_country": "US",
        "account_name": "RailSaaS (emulated)",
        "account_tax_ids": None,
        "amount_overpaid": 0,
        "amount_shipping": 0,
        "application": None,
        "automatic_tax": {**_AUTOMATIC_TAX, "provider": None, "status": None},
        "automatically_finalizes_at": None,
        "confirmation_secret": None,
        "custom_fields": None,
        "customer_account": None,
        "customer_address": None,
        "customer_phone": None,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_source": None,
        "default_tax_rates": [],
        "discounts": [],
        "footer": None,
        "from_invoice": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "on_behalf_of": None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "statement_descriptor": None,
        "test_clock": None,
        "threshold_reason": None,
        "total_discount_amounts": [],
        "total_taxes": [],
        "total_pretax_credit_amounts": [],
        "webhooks_delivered_at": None,
    },
    "line_item": {
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "pretax_credit_amounts": [],
        "taxes": [],
        "subscription": None,
    },
    "checkout.session": {
        "adaptive_pricing": None,
        "after_expiration": None,
        "allow_promotion_codes": None,
        "automatic_tax": _AUTOMATIC_TAX,
        "billing_address_collection": None,
        "client_secret": None,
        "consent": None,
        "consent_collection": None,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer_creation": None,
        "customer_details": None,
        "discounts": [],
        "invoice_creation": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "always",
        "payment_method_types": ["card"],
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "submit_type": None,
        "tax_id_collection": None,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
    },
    "customer": {
        "address": None,
        "default_source": None,
        "discount": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
        "next_invoice_sequence": 1,
    },
    "price": {"custom_unit_amount": None, "tiers_mode": None, "transform_quantity": None},
    "event": {"account": None, "context": None},
}


def fill_defaults(out: dict[str, Any]) -> dict[str, Any]:
    """Every field Stripe renders for this kind of object, the emulator's own first."""
    for key, value in DEFAULTS.get(out.get("object", ""), {}).items():
        if key not in out:
            out[key] = copy.deepcopy(value)
    return out


def requested_version(header: str | None) -> str:
    """The version a request asks for (the account's default without the header)."""
    if not header:
        return API_VERSION
    version = header.strip()
    if version not in SUPPORTED_VERSIONS:
        raise ApiError(400, f"Invalid Stripe API version: {version}")
    return version


def shape(value: Any, version: str) -> Any:
    """A response (or an event's object) as `version` renders it."""
    if version >= BASIL:
        return value
    if isinstance(value, list):
        return [shape(v, version) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: shape(v, version) for k, v in value.items()}
    kind = out.get("object")
    if kind == "subscription":
        items = (out.get("items") or {}).get("data") or []
        if items:
            out["current_period_start"] = items[0].get("current_period_start")
            out["current_period_end"] = items[0].get("current_period_end")
    elif kind == "invoice":
        details = (out.get("parent") or {}).get("subscription_details") or {}
        out["subscription"] = details.get("subscription")
    return out
