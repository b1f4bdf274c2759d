"""Customers and the cards attached to them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from devtools.emulators.stripe import forms
from devtools.emulators.stripe.base import (
    DECLINE_MESSAGES,
    TEST_CARDS,
    Base,
    _allowed,
    _parse_expiry,
)
from devtools.emulators.stripe.store import ApiError, changed, new_id


class CustomersMixin(Base):
    # === customers =========================================================================

    def create_customer(self, p: dict) -> dict:
        _allowed(
            p,
            {
                "email",
                "name",
                "description",
                "metadata",
                "phone",
                "address",
                "invoice_settings",
                "payment_method",
                "preferred_locales",
                "test_clock",
            },
        )
        customer = {
            "id": new_id("cus", 14),
            "object": "customer",
            "created": self.now,
            "email": forms.as_str(p, "email"),
            "name": forms.as_str(p, "name"),
            "description": forms.as_str(p, "description"),
            "phone": forms.as_str(p, "phone"),
            "metadata": forms.metadata(p),
            "balance": 0,
            "currency": None,
            "delinquent": False,
            "invoice_prefix": new_id("x", 8)[2:].upper(),
            "livemode": False,
            "invoice_settings": {
                "default_payment_method": None,
                "custom_fields": None,
                "footer": None,
            },
            "_invoice_seq": 0,
        }
        self.store.add(customer)
        self.store.emit("customer.created", customer)
        return customer

    def update_customer(self, cid: str, p: dict) -> dict:
        _allowed(p, {"email", "name", "description", "metadata", "phone", "invoice_settings"})
        customer = self.store.get("customer", cid)
        before = self.store.render(customer)
        for key in ("email", "name", "description", "phone"):
            if key in p:
                customer[key] = forms.as_str(p, key)
        if "metadata" in p:
            customer["metadata"] = forms.metadata(p, customer["metadata"])
        settings = forms.as_dict(p, "invoice_settings")
        if "default_payment_method" in settings:
            pm_id = settings["default_payment_method"] or None
            if pm_id:
                pm = self.store.get("payment_method", pm_id, param="default_payment_method")
                if pm["customer"] != cid:
                    raise ApiError(
                        400,
                        f"The customer does not have a payment method with the ID {pm_id}.",
                        param="default_payment_method",
                    )
            customer["invoice_settings"]["default_payment_method"] = pm_id
        after = self.store.render(customer)
        if after != before:
            self.store.emit("customer.updated", customer, previous=changed(before, after))
        return customer

    def delete_customer(self, cid: str) -> dict:
        customer = self.store.get("customer", cid)
        for sub in self._subscriptions_of(cid):
            self._end_subscription(sub, self.now)
        customer["deleted"] = True
        self.store.emit("customer.deleted", customer)
        return {"id": cid, "object": "customer", "deleted": True}

    def list_customers(self, p: dict) -> dict:
        email = forms.as_str(p, "email")
        objs = self.store.all("customer", lambda c: email is None or c["email"] == email)
        return self.store.page(objs, p, "/v1/customers")

    # === cards ===========================================================================

    def validate_card(self, number: str, exp: str, cvc: str) -> dict[str, Any]:
        """Check a card typed into a hosted page the way Checkout does; a declining card
        raises a 402 card error (0341 passes here and fails every later charge)."""
        number = "".join(ch for ch in (number or "") if ch.isdigit())
        if not 12 <= len(number) <= 19:
            raise ApiError(
                402,
                "Your card number is incomplete.",
                type="card_error",
                code="incorrect_number",
                param="number",
            )
        month, year = _parse_expiry(exp)
        if month is None or year is None:
            raise ApiError(
                402,
                "Your card's expiration date is incomplete.",
                type="card_error",
                code="invalid_expiry_month",
                param="exp",
            )
        today = datetime.fromtimestamp(self.now, UTC)
        if (year, month) < (today.year, today.month):
            raise ApiError(
                402,
                "Your card's expiration year is in the past.",
                type="card_error",
                code="invalid_expiry_year",
                param="exp",
            )
        cvc = (cvc or "").strip()
        if not (cvc.isdigit() and 3 <= len(cvc) <= 4):
            raise ApiError(
                402,
                "Your card's security code is incomplete.",
                type="card_error",
                code="incorrect_cvc",
                param="cvc",
            )
        brand, behaviour = TEST_CARDS.get(number, ("unknown", "test_mode_live_card"))
        if behaviour not in ("ok", "charge_fails"):
            raise ApiError(
                402,
                DECLINE_MESSAGES[behaviour],
                type="card_error",
                code="card_declined",
                decline_code=behaviour,
            )
        return {
            "brand": brand,
            "behaviour": behaviour,
            "last4": number[-4:],
            "fingerprint": hashlib.sha256(f"card:{number}".encode()).hexdigest()[:16],
            "exp_month": month,
            "exp_year": year,
        }

    def attach_card(
        self, customer_id: str, number: str, exp: str, cvc: str, name: str | None = None
    ) -> dict:
        """Validate a card and attach it to the customer as a payment method."""
        card = self.validate_card(number, exp, cvc)
        self.store.get("customer", customer_id)
        pm = {
            "id": new_id("pm", 24),
            "object": "payment_method",
            "type": "card",
            "created": self.now,
            "customer": customer_id,
            "livemode": False,
            "metadata": {},
            "billing_details": {
                "name": name or None,
                "email": None,
                "phone": None,
                "address": None,
            },
            "card": {
                "brand": card["brand"],
                "last4": card["last4"],
                "exp_month": card["exp_month"],
                "exp_year": card["exp_year"],
                "funding": "credit",
                "country": "US",
                # Stripe's: the same card number gives the same fingerprint (per account).
                "fingerprint": card["fingerprint"],
            },
            "_behaviour": card["behaviour"],
        }
        self.store.add(pm)
        self.store.emit("payment_method.attached", pm)
        return pm

    def set_default_card(self, customer: dict, pm: dict) -> None:
        """The new card pays from now on: the customer's default and every live
        subscription's (as the portal does when a customer updates their card)."""
        self.update_customer(
            customer["id"], {"invoice_settings": {"default_payment_method": pm["id"]}}
        )
        for sub in self._subscriptions_of(customer["id"]):
            if sub["default_payment_method"] != pm["id"]:
                before = self.store.render(sub)
                sub["default_payment_method"] = pm["id"]
                self._emit_updated(sub, before)

    def _charge(self, pm_id: str | None, amount: int) -> ApiError | None:
        if amount <= 0:
            return None
        pm = self.store.find(pm_id) if pm_id else None
        if pm is None:
            return ApiError(
                402,
                "The customer has no attached payment source or default payment method.",
                type="card_error",
                code="invoice_no_customer_line_items",
            )
        if pm["_behaviour"] == "ok":
            return None
        return ApiError(
            402,
            DECLINE_MESSAGES["generic_decline"],
            type="card_error",
            code="card_declined",
            decline_code="generic_decline",
        )
