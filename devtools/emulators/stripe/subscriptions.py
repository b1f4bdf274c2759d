"""Subscriptions: creation, item changes with proration, cancellation, renewal."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from devtools.emulators.stripe import forms, shapes
from devtools.emulators.stripe.base import (
    DAY,
    Base,
    _allowed,
    _date,
    add_interval,
)
from devtools.emulators.stripe.store import ApiError, changed, new_id


class SubscriptionsMixin(Base):
    # === subscriptions ===================================================================

    def _check_same_interval(self, prices: list[dict]) -> None:
        intervals = {(p["recurring"]["interval"], p["recurring"]["interval_count"]) for p in prices}
        if len(intervals) > 1:
            raise ApiError(
                400,
                "The price specified has a different billing interval than "
                "other prices on this subscription.",
                param="items",
            )

    def _subscriptions_of(self, customer_id: str, live_only: bool = True) -> list[dict]:
        return self.store.all(
            "subscription",
            lambda s: (
                s["customer"] == customer_id
                and (not live_only or s["status"] not in ("canceled", "incomplete_expired"))
            ),
        )

    def _period(self, sub: dict) -> tuple[int, int]:
        item = sub["_items"][0]
        return item["current_period_start"], item["current_period_end"]

    def _interval(self, sub: dict) -> tuple[str, int]:
        price = self.store.get("price", sub["_items"][0]["_price"])
        return price["recurring"]["interval"], price["recurring"]["interval_count"]

    def _next_boundary(self, sub: dict, start: int) -> int:
        interval, count = self._interval(sub)
        anchor = datetime.fromtimestamp(sub["billing_cycle_anchor"], UTC).day
        return add_interval(start, interval, count, anchor)

    def _render_subscription(self, out: dict) -> dict:
        sub = self.store.objects[out["id"]]
        items = []
        for item in sub["_items"]:
            rendered = {k: v for k, v in item.items() if not k.startswith("_")}
            price = self.store.get("price", item["_price"])
            rendered["price"] = self.store.render(price)
            rendered["plan"] = _plan_of(price)
            items.append(shapes.fill_defaults(rendered))
        out["items"] = {
            "object": "list",
            "data": items,
            "has_more": False,
            "total_count": len(items),
            "url": f"/v1/subscription_items?subscription={out['id']}",
        }
        return out

    def create_subscription(self, p: dict) -> dict:
        _allowed(
            p,
            {
                "customer",
                "items",
                "default_payment_method",
                "trial_period_days",
                "metadata",
                "payment_behavior",
                "collection_method",
                "description",
                "proration_behavior",
                "trial_end",
                "off_session",
            },
        )
        customer_id = forms.as_str(p, "customer", required=True)
        customer = self.store.get("customer", customer_id, param="customer")
        items = []
        for i, item in enumerate(forms.as_list(p, "items")):
            price = self.store.get("price", (item or {}).get("price"), param=f"items[{i}][price]")
            metered = (price["recurring"] or {}).get("usage_type") == "metered"
            items.append(
                (price["id"], None if metered else forms.as_int(item, "quantity", 1, minimum=1))
            )
        if not items:
            raise ApiError(400, "Missing required param: items.", param="items")
        pm_id = (
            forms.as_str(p, "default_payment_method")
            or customer["invoice_settings"]["default_payment_method"]
        )
        sub, _ = self._create_subscription(
            customer_id,
            items,
            pm_id=pm_id,
            trial_days=forms.as_int(p, "trial_period_days", minimum=1),
            metadata=forms.metadata(p),
            at=self.now,
        )
        return sub

    def _create_subscription(
        self,
        customer_id: str,
        items: list[tuple[str, int | None]],
        *,
        pm_id: str | None,
        trial_days: int | None,
        metadata: dict,
        at: int,
    ) -> tuple[dict, dict]:
        prices = [self.store.get("price", pid) for pid, _ in items]
        if any(p["type"] != "recurring" for p in prices):
            raise ApiError(400, "Subscriptions need recurring prices.", param="items")
        self._check_same_interval(prices)
        trial_end = at + trial_days * DAY if trial_days else None
        anchor = trial_end or at
        sub = {
            "id": new_id("sub", 24),
            "object": "subscription",
            "customer": customer_id,
            "status": "incomplete",
            "cancel_at_period_end": False,
            "cancel_at": None,
            "canceled_at": None,
            "ended_at": None,
            "created": at,
            "start_date": at,
            "billing_cycle_anchor": anchor,
            "trial_start": at if trial_end else None,
            "trial_end": trial_end,
            "latest_invoice": None,
            "default_payment_method": pm_id,
            "metadata": metadata,
            "collection_method": "charge_automatically",
            "currency": prices[0]["currency"],
            "livemode": False,
            "description": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "_items": [],
            "_pending_lines": [],
            "_trial_will_end_sent": False,
        }
        self.store.add(sub)
        end = trial_end or self._next_boundary_from(prices[0], at, anchor)
        for pid, qty in items:
            item = {
                "id": new_id("si", 14),
                "object": "subscription_item",
                "subscription": sub["id"],
                "created": at,
                "current_period_start": at,
                "current_period_end": end,
                "metadata": {},
                "_price": pid,
            }
            if qty is not None:
                item["quantity"] = qty
            sub["_items"].append(item)
        lines = self._licensed_lines(sub, at, end, trial=bool(trial_end))
        sub["status"] = "trialing" if trial_end else "incomplete"
        invoice = self._new_invoice(sub, lines, "subscription_create", at)
        self._attempt(invoice, at, emit=False)
        if not trial_end:
            sub["status"] = "active" if invoice["status"] == "paid" else "incomplete"
        self.store.emit("customer.subscription.created", sub, at=at)
        self._emit_invoice_lifecycle(invoice, at)
        return sub, invoice

    def _next_boundary_from(self, price: dict, start: int, anchor: int) -> int:
        r = price["recurring"]
        return add_interval(
            start, r["interval"], r["interval_count"], datetime.fromtimestamp(anchor, UTC).day
        )

    def _emit_updated(self, sub: dict, before: dict, at: int | None = None) -> None:
        after = self.store.render(sub)
        if after != before:
            self.store.emit(
                "customer.subscription.updated", sub, previous=changed(before, after), at=at
            )

    def update_subscription(self, sid: str, p: dict) -> dict:
        _allowed(
            p,
            {
                "items",
                "proration_behavior",
                "cancel_at_period_end",
                "metadata",
                "default_payment_method",
                "payment_behavior",
                "proration_date",
                "description",
                "cancel_at",
                "trial_end",
                "cancellation_details",
            },
        )
        sub = self.store.get("subscription", sid)
        if sub["status"] in ("canceled", "incomplete_expired"):
            raise ApiError(
                400,
                "A canceled subscription can only update its cancellation_details and metadata.",
            )
        before = self.store.render(sub)
        at = self.now
        behaviour = forms.as_str(
            p,
            "proration_behavior",
            "create_prorations",
            choices=("create_prorations", "always_invoice", "none"),
        )
        if "metadata" in p:
            sub["metadata"] = forms.metadata(p, sub["metadata"])
        if "default_payment_method" in p:
            pm_id = forms.as_str(p, "default_payment_method")
            if pm_id:
                self.store.get("payment_method", pm_id, param="default_payment_method")
            sub["default_payment_method"] = pm_id
        if "cancel_at_period_end" in p:
            flag = forms.as_bool(p, "cancel_at_period_end")
            sub["cancel_at_period_end"] = flag
            sub["cancel_at"] = self._period(sub)[1] if flag else None
            sub["canceled_at"] = at if flag else None
            reason = "cancellation_requested" if flag else None
            sub["cancellation_details"]["reason"] = reason
        if "trial_end" in p and forms.as_str(p, "trial_end") == "now":
            if sub["status"] != "trialing":
                raise ApiError(
                    400,
                    "trial_end can only be set on a subscription in a trial.",
                    param="trial_end",
                )
            # Stripe ends the trial at once: the first paid period starts now (the billing
            # cycle anchor moves to now) and is invoiced and charged now.
            sub["trial_end"] = sub["billing_cycle_anchor"] = at
            for item in sub["_items"]:
                item["current_period_end"] = at
            self._renew(sub, at, draft=False)
            return sub
        invoice = None
        if p.get("items"):
            invoice = self._change_items(sub, forms.as_list(p, "items"), behaviour, at)
        self._emit_updated(sub, before, at)
        if invoice is not None:
            self._emit_invoice_lifecycle(invoice, at)
            self._sync_status(sub, at)
        return sub

    def _change_items(self, sub: dict, changes: list, behaviour: str, at: int) -> dict | None:
        start, end = self._period(sub)
        old_interval = self._interval(sub)
        lines: list[dict] = []
        for i, change in enumerate(changes):
            if not isinstance(change, dict):
                raise ApiError(400, "Invalid items", param="items")
            item = None
            if change.get("id"):
                item = next((it for it in sub["_items"] if it["id"] == change["id"]), None)
                if item is None:
                    raise ApiError(
                        400,
                        f"Subscription item {change['id']} doesn't belong to "
                        f"subscription {sub['id']}",
                        param=f"items[{i}][id]",
                    )
            if forms.as_bool(change, "deleted", False):
                if item is not None:
                    lines += self._proration(sub, item, None, at, start, end)
                    sub["_items"].remove(item)
                continue
            price_id = change.get("price") or (item["_price"] if item else None)
            price = self.store.get("price", price_id, param=f"items[{i}][price]")
            metered = price["recurring"]["usage_type"] == "metered"
            qty = (
                None
                if metered
                else forms.as_int(
                    change, "quantity", item.get("quantity", 1) if item else 1, minimum=1
                )
            )
            new_item = {"_price": price["id"]}
            if qty is not None:
                new_item["quantity"] = qty
            if item is None:
                item = {
                    "id": new_id("si", 14),
                    "object": "subscription_item",
                    "subscription": sub["id"],
                    "created": at,
                    "current_period_start": start,
                    "current_period_end": end,
                    "metadata": {},
                    "_price": price["id"],
                }
                if qty is not None:
                    item["quantity"] = qty
                sub["_items"].append(item)
                lines += self._proration(sub, None, new_item, at, start, end)
            else:
                lines += self._proration(sub, item, new_item, at, start, end)
                item["_price"] = price["id"]
                item.pop("quantity", None)
                if qty is not None:
                    item["quantity"] = qty
        if not sub["_items"]:
            raise ApiError(400, "A subscription needs at least one item.", param="items")
        self._check_same_interval([self.store.get("price", it["_price"]) for it in sub["_items"]])
        if self._interval(sub) != old_interval:
            # A new interval restarts the cycle now: credit the unused time, bill in full.
            new_end = self._next_boundary_from(
                self.store.get("price", sub["_items"][0]["_price"]), at, at
            )
            sub["billing_cycle_anchor"] = at
            for it in sub["_items"]:
                it["current_period_start"], it["current_period_end"] = at, new_end
            credit = [ln for ln in lines if ln["amount"] < 0]
            lines = credit + self._licensed_lines(sub, at, new_end)
            behaviour = "always_invoice"
        if behaviour == "none" or not lines:
            return None
        if behaviour == "create_prorations":
            sub["_pending_lines"].extend(lines)
            return None
        invoice = self._new_invoice(sub, lines, "subscription_update", at)
        self._attempt(invoice, at, emit=False)
        return invoice

    def _proration(
        self, sub: dict, old: dict | None, new: dict | None, at: int, start: int, end: int
    ) -> list[dict]:
        """Credit the unused time of the old price, charge the rest of the period at the
        new one, both in proportion to the seconds left (Stripe's proration)."""
        if end <= start or at >= end:
            return []
        if (
            old is not None
            and new is not None
            and old["_price"] == new["_price"]
            and old.get("quantity") == new.get("quantity")
        ):
            return []
        fraction = Decimal(end - at) / Decimal(end - start)
        lines = []
        for item, sign, label in ((old, -1, "Unused time on"), (new, 1, "Remaining time on")):
            if item is None:
                continue
            price = self.store.get("price", item["_price"])
            if price["recurring"]["usage_type"] != "licensed":
                continue
            qty = item.get("quantity", 1)
            full = (price["unit_amount"] or 0) * qty
            amount = int((Decimal(full) * fraction).to_integral_value()) * sign
            if amount == 0:
                continue
            desc = f"{label} {qty} × {self._price_label(price)} after {_date(at)}"
            lines.append(
                self._line(
                    sub, price, amount, qty, desc, at, end, proration=True, item_id=item.get("id")
                )
            )
        return lines

    def cancel_subscription(self, sid: str, p: dict | None = None) -> dict:
        _allowed(p or {}, {"invoice_now", "prorate", "cancellation_details"})
        sub = self.store.get("subscription", sid)
        if sub["status"] == "canceled":
            raise ApiError(
                400,
                f"No such subscription: '{sid}'; it has been canceled.",
                code="resource_missing",
            )
        self._end_subscription(sub, self.now)
        return sub

    def _end_subscription(self, sub: dict, at: int) -> None:
        sub["status"] = "canceled"
        sub["ended_at"] = at
        sub["canceled_at"] = sub["canceled_at"] or at
        sub["cancel_at_period_end"] = False
        for inv in self.store.all(
            "invoice", lambda i: i["_subscription"] == sub["id"] and i["status"] == "open"
        ):
            inv["next_payment_attempt"] = None
        self.store.emit("customer.subscription.deleted", sub, at=at)

    def list_subscriptions(self, p: dict) -> dict:
        customer = forms.as_str(p, "customer")
        price = forms.as_str(p, "price")
        status = forms.as_str(p, "status")

        def keep(s: dict) -> bool:
            if customer and s["customer"] != customer:
                return False
            if price and all(it["_price"] != price for it in s["_items"]):
                return False
            if status == "all":
                return True
            if status:
                return s["status"] == status
            return s["status"] != "canceled"

        return self.store.page(self.store.all("subscription", keep), p, "/v1/subscriptions")


def _plan_of(price: dict) -> dict:
    """The legacy `plan` Stripe still renders on a subscription item: the recurring price
    in the old shape (non-null in Stripe's spec)."""
    recurring = price["recurring"] or {}
    return {
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": price["billing_scheme"],
        "created": price["created"],
        "currency": price["currency"],
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"),
        "livemode": False,
        "metadata": dict(price["metadata"]),
        "meter": recurring.get("meter"),
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": recurring.get("usage_type", "licensed"),
    }
