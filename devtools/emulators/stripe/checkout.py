"""Hosted Checkout sessions (subscription mode) and customer portal sessions."""

from __future__ import annotations

from typing import Any

from devtools.emulators.stripe import forms
from devtools.emulators.stripe.base import (
    CHECKOUT_TTL_SECONDS,
    DECLINE_MESSAGES,
    Base,
    _allowed,
)
from devtools.emulators.stripe.store import ApiError, new_id


class CheckoutMixin(Base):
    # === checkout ========================================================================

    def create_checkout_session(self, p: dict) -> dict:
        _allowed(
            p,
            {
                "mode",
                "customer",
                "customer_email",
                "line_items",
                "success_url",
                "cancel_url",
                "client_reference_id",
                "metadata",
                "subscription_data",
                "allow_promotion_codes",
                "payment_method_types",
                "expires_at",
                "billing_address_collection",
                "customer_update",
                "ui_mode",
                "locale",
                "automatic_tax",
                "return_url",
                "payment_method_collection",
            },
        )
        mode = forms.as_str(p, "mode", required=True, choices=("payment", "setup", "subscription"))
        if mode != "subscription":
            raise ApiError(
                400, "The emulator supports Checkout in subscription mode only.", param="mode"
            )
        success_url = forms.as_str(p, "success_url", required=True)
        customer_id = forms.as_str(p, "customer")
        if customer_id:
            self.store.get("customer", customer_id, param="customer")
        line_items = []
        for i, item in enumerate(forms.as_list(p, "line_items")):
            if not isinstance(item, dict):
                raise ApiError(400, "Invalid line_items", param="line_items")
            price = self.store.get("price", item.get("price"), param=f"line_items[{i}][price]")
            if not price["active"]:
                raise ApiError(
                    400,
                    "The price specified is inactive. This field only accepts active prices.",
                    param=f"line_items[{i}][price]",
                )
            if price["type"] != "recurring":
                raise ApiError(
                    400,
                    "You must provide at least one recurring price in "
                    "`subscription` mode when using prices.",
                    param=f"line_items[{i}][price]",
                )
            metered = price["recurring"]["usage_type"] == "metered"
            if metered and "quantity" in item:
                raise ApiError(
                    400,
                    "Quantity should not be specified where usage_type is "
                    "`metered`. Remove quantity from `line_items[0]`.",
                    param=f"line_items[{i}][quantity]",
                )
            quantity = None if metered else forms.as_int(item, "quantity", 1, minimum=1)
            line_items.append({"price": price["id"], "quantity": quantity})
        if not line_items:
            raise ApiError(
                400, "`line_items` is required in `subscription` mode.", param="line_items"
            )
        self._check_same_interval([self.store.get("price", li["price"]) for li in line_items])
        sub_data = forms.as_dict(p, "subscription_data")
        _allowed(
            sub_data,
            {"metadata", "trial_period_days", "description", "billing_cycle_anchor", "trial_end"},
        )
        session = {
            "id": new_id("cs_test", 58),
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "customer": customer_id,
            "customer_email": forms.as_str(p, "customer_email"),
            "client_reference_id": forms.as_str(p, "client_reference_id"),
            "subscription": None,
            "invoice": None,
            "success_url": success_url,
            "cancel_url": forms.as_str(p, "cancel_url"),
            "metadata": forms.metadata(p),
            "created": self.now,
            "expires_at": forms.as_int(p, "expires_at", self.now + CHECKOUT_TTL_SECONDS),
            "currency": self.store.get("price", line_items[0]["price"])["currency"],
            "livemode": False,
            "locale": None,
            "ui_mode": "hosted",
            "_line_items": line_items,
            "_subscription_data": {
                "metadata": forms.metadata(sub_data),
                "trial_period_days": forms.as_int(sub_data, "trial_period_days", minimum=1),
            },
        }
        session["amount_total"] = self._first_charge(session)
        session["amount_subtotal"] = session["amount_total"]
        self.store.add(session)
        return session

    def _first_charge(self, session: dict) -> int:
        if session["_subscription_data"]["trial_period_days"]:
            return 0
        total = 0
        for li in session["_line_items"]:
            price = self.store.get("price", li["price"])
            if price["recurring"]["usage_type"] == "licensed":
                total += (price["unit_amount"] or 0) * (li["quantity"] or 1)
        return total

    def _checkout_line_items(self, session: dict) -> dict:
        data = []
        for i, li in enumerate(session["_line_items"]):
            price = self.store.get("price", li["price"])
            amount = (price["unit_amount"] or 0) * (li["quantity"] or 0)
            data.append(
                {
                    "id": f"li_{session['id'][-20:]}{i}",
                    "object": "item",
                    "price": self.store.render(price),
                    "quantity": li["quantity"],
                    "amount_subtotal": amount,
                    "amount_total": amount,
                    "currency": price["currency"],
                    "description": self._price_label(price),
                }
            )
        return {
            "object": "list",
            "data": data,
            "has_more": False,
            "url": f"/v1/checkout/sessions/{session['id']}/line_items",
        }

    def _render_checkout_session(self, out: dict) -> dict:
        out["url"] = self.store.url(f"/c/pay/{out['id']}") if out["status"] == "open" else None
        return out

    def expire_checkout_session(self, sid: str, at: int | None = None) -> dict:
        session = self.store.get("checkout.session", sid, "checkout.session")
        if session["status"] != "open":
            raise ApiError(
                400,
                f'Only Checkout Sessions with a status in ["open"] can be '
                f"expired. This Checkout Session has a status of "
                f'"{session["status"]}".',
            )
        session["status"] = "expired"
        self.store.emit("checkout.session.expired", session, at=at)
        return session

    def complete_checkout(
        self,
        sid: str,
        number: str,
        exp: str,
        cvc: str,
        name: str | None = None,
        email: str | None = None,
    ) -> dict:
        """What the hosted page does on "Subscribe": card, customer, subscription, first
        invoice, then `checkout.session.completed`. A declined card changes nothing."""
        session = self.store.get("checkout.session", sid, "checkout.session")
        if session["status"] != "open":
            raise ApiError(400, "This Checkout Session is no longer active.")
        if session["expires_at"] <= self.now:
            self.expire_checkout_session(sid, at=session["expires_at"])
            raise ApiError(400, "This Checkout Session has expired.")
        # Validate the card before anything exists, so a decline leaves no trace.
        card = self.validate_card(number, exp, cvc)
        if card["behaviour"] == "charge_fails" and self._first_charge(session) > 0:
            raise ApiError(
                402,
                DECLINE_MESSAGES["charge_fails"],
                type="card_error",
                code="card_declined",
                decline_code="generic_decline",
            )
        customer_id = session["customer"]
        if customer_id is None:
            customer = self.create_customer(
                {
                    "email": email or session["customer_email"] or "",
                    "name": name or "",
                }
            )
            customer_id = session["customer"] = customer["id"]
        pm = self.attach_card(customer_id, number, exp, cvc, name)
        customer = self.store.get("customer", customer_id)
        if not customer["invoice_settings"]["default_payment_method"]:
            customer["invoice_settings"]["default_payment_method"] = pm["id"]
        sub, invoice = self._create_subscription(
            customer_id,
            [(li["price"], li["quantity"]) for li in session["_line_items"]],
            pm_id=pm["id"],
            trial_days=session["_subscription_data"]["trial_period_days"],
            metadata=session["_subscription_data"]["metadata"],
            at=self.now,
        )
        session.update(
            status="complete",
            subscription=sub["id"],
            invoice=invoice["id"],
            payment_status="paid" if invoice["amount_due"] else "no_payment_required",
        )
        if email and not session["customer_email"]:
            session["customer_email"] = email
        self.store.emit("checkout.session.completed", session)
        return session

    # === portal ==========================================================================

    def create_portal_configuration(self, p: dict) -> dict:
        _allowed(
            p,
            {
                "features",
                "business_profile",
                "default_return_url",
                "metadata",
                "login_page",
                "name",
            },
        )
        config = {
            "id": new_id("bpc", 24),
            "object": "billing_portal.configuration",
            "active": True,
            "is_default": not self.store.all("billing_portal.configuration"),
            "features": forms.as_dict(p, "features"),
            "business_profile": forms.as_dict(p, "business_profile"),
            "default_return_url": forms.as_str(p, "default_return_url"),
            "metadata": forms.metadata(p),
            "created": self.now,
            "updated": self.now,
            "livemode": False,
        }
        self.store.add(config)
        return config

    def create_portal_session(self, p: dict) -> dict:
        _allowed(
            p, {"customer", "return_url", "configuration", "flow_data", "locale", "on_behalf_of"}
        )
        customer_id = forms.as_str(p, "customer", required=True)
        self.store.get("customer", customer_id, param="customer")
        config_id = forms.as_str(p, "configuration")
        if config_id:
            self.store.get(
                "billing_portal.configuration",
                config_id,
                "billing portal configuration",
                "configuration",
            )
        session = {
            "id": new_id("bps", 24),
            "object": "billing_portal.session",
            "customer": customer_id,
            "return_url": forms.as_str(p, "return_url"),
            "configuration": config_id or self._default_portal_config_id(),
            "created": self.now,
            "livemode": False,
            "locale": None,
            "flow": None,
            "on_behalf_of": None,
        }
        self.store.add(session)
        return session

    def _default_portal_config_id(self) -> str | None:
        defaults = self.store.all("billing_portal.configuration", lambda c: c["is_default"])
        return defaults[0]["id"] if defaults else None

    def _render_portal_session(self, out: dict) -> dict:
        out["url"] = self.store.url(f"/p/session/{out['id']}")
        return out

    def portal_settings(self, session: dict) -> dict[str, Any]:
        """Which prices a customer may switch to, and how changes prorate and cancel.
        Without a configuration: every active licensed recurring price, invoiced at once,
        cancellation at the period end (the Dashboard defaults a person would pick)."""
        config = self.store.find(session["configuration"]) if session["configuration"] else None
        features = (config or {}).get("features") or {}
        update = features.get("subscription_update") or {}
        cancel = features.get("subscription_cancel") or {}
        allowed_prices: set[str] | None = None
        if update.get("products"):
            allowed_prices = set()
            for entry in update["products"]:
                allowed_prices.update(entry.get("prices") or [])
        prices = [
            pr
            for pr in self.store.all("price")
            if pr["active"]
            and pr["recurring"]
            and pr["recurring"]["usage_type"] == "licensed"
            and (self.store.find(pr["product"]) or {}).get("active", False)
            and (allowed_prices is None or pr["id"] in allowed_prices)
        ]
        prices.sort(key=lambda pr: (pr["unit_amount"] or 0, pr["created"]))
        return {
            "prices": prices,
            "update_enabled": str(update.get("enabled", "true")) != "false",
            "proration_behavior": update.get("proration_behavior") or "always_invoice",
            "cancel_enabled": str(cancel.get("enabled", "true")) != "false",
            "cancel_mode": cancel.get("mode") or "at_period_end",
        }
