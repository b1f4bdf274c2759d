"""Invoices: lines, balances, payment attempts and retries, hosted payment."""

from __future__ import annotations

from decimal import Decimal

from devtools.emulators.stripe import forms, shapes
from devtools.emulators.stripe.base import (
    DAY,
    FINALIZE_GRACE_SECONDS,
    RETRY_AFTER_DAYS,
    Base,
    _allowed,
    _money,
)
from devtools.emulators.stripe.store import ApiError, new_id


class InvoicesMixin(Base):
    # === invoices ========================================================================

    def _line(
        self,
        sub: dict,
        price: dict,
        amount: int,
        qty: int | None,
        desc: str,
        start: int,
        end: int,
        *,
        proration: bool = False,
        item_id: str | None = None,
    ) -> dict:
        return {
            "id": new_id("il", 24),
            "object": "line_item",
            "amount": amount,
            "currency": price["currency"],
            "description": desc,
            "quantity": qty,
            "period": {"start": start, "end": end},
            "livemode": False,
            "metadata": {},
            "pricing": {
                "type": "price_details",
                "unit_amount_decimal": price["unit_amount_decimal"],
                "price_details": {"price": price["id"], "product": price["product"]},
            },
            "parent": {
                "type": "subscription_item_details",
                "subscription_item_details": {
                    "subscription": sub["id"],
                    "subscription_item": item_id,
                    "proration": proration,
                    "invoice_item": None,
                },
            },
        }

    def _licensed_lines(self, sub: dict, start: int, end: int, trial: bool = False) -> list:
        lines = []
        for item in sub["_items"]:
            price = self.store.get("price", item["_price"])
            if price["recurring"]["usage_type"] != "licensed":
                continue
            qty = item.get("quantity", 1)
            label = self._price_label(price)
            if trial:
                desc, amount = f"Trial period for {label}", 0
            else:
                unit = price["unit_amount"] or 0
                amount = unit * qty
                per = f"{_money(unit, price['currency'])} / {price['recurring']['interval']}"
                desc = f"{qty} × {label} (at {per})"
            lines.append(self._line(sub, price, amount, qty, desc, start, end, item_id=item["id"]))
        return lines

    def _metered_lines(self, sub: dict, start: int, end: int) -> list:
        lines = []
        for item in sub["_items"]:
            price = self.store.get("price", item["_price"])
            if price["recurring"]["usage_type"] != "metered":
                continue
            meter = self.store.get("billing.meter", price["recurring"]["meter"])
            quantity = self.meter_total(meter, sub["customer"], start, end)
            amount = int((quantity * Decimal(price["unit_amount_decimal"])).to_integral_value())
            desc = f"{self._price_label(price)} (usage: {format(quantity.normalize(), 'f')})"
            lines.append(
                self._line(sub, price, amount, int(quantity), desc, start, end, item_id=item["id"])
            )
        return lines

    def _new_invoice(
        self,
        sub: dict,
        lines: list[dict],
        reason: str,
        at: int,
        *,
        period: tuple[int, int] | None = None,
        draft: bool = False,
    ) -> dict:
        """An invoice of the subscription. `period` is Stripe's invoice period: the time
        during which its usage accrued, the *previous* period for a renewal (each line
        carries its own service `period`); for any other invoice both ends are `at`.

        A renewal is a `draft` first: Stripe finalizes it after a grace period of an hour
        (FINALIZE_GRACE_SECONDS), and only then adds the metered usage of its period, so
        usage reported in that hour with a timestamp inside the period is still billed."""
        customer = self.store.get("customer", sub["customer"])
        invoice_id = new_id("in", 24)
        start, end = period or (at, at)
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "customer": sub["customer"],
            "customer_email": customer["email"],
            "customer_name": customer["name"],
            "status": "draft",
            "number": None,
            "currency": sub["currency"],
            "subtotal": 0,
            "subtotal_excluding_tax": 0,
            "total": 0,
            "total_excluding_tax": 0,
            "amount_due": 0,
            "amount_paid": 0,
            "amount_remaining": 0,
            "starting_balance": 0,
            "ending_balance": None,
            "created": at,
            "period_start": start,
            "period_end": end,
            "billing_reason": reason,
            "attempt_count": 0,
            "attempted": False,
            "next_payment_attempt": None,
            "collection_method": "charge_automatically",
            "description": None,
            "livemode": False,
            "metadata": {},
            "default_payment_method": None,
            "auto_advance": True,
            "automatically_finalizes_at": at + FINALIZE_GRACE_SECONDS if draft else None,
            "effective_at": None,
            "due_date": None,
            "payments": None,
            "status_details": None,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "subscription": sub["id"],
                    "metadata": dict(sub["metadata"]),
                },
            },
            "status_transitions": {
                "finalized_at": None,
                "paid_at": None,
                "voided_at": None,
                "marked_uncollectible_at": None,
            },
            "_subscription": sub["id"],
            "_retries": 0,
            "_usage_period": (start, end) if reason == "subscription_cycle" else None,
        }
        self.store.add(invoice)
        sub["latest_invoice"] = invoice_id
        if not draft:
            self._finalize(invoice, at)
        return invoice

    def _finalize(self, invoice: dict, at: int) -> None:
        """Draft -> open: the usage of its period is added, balances applied, numbered."""
        sub = self.store.find(invoice["_subscription"])
        lines = invoice["lines"]["data"]
        if invoice["_usage_period"] and sub is not None:
            usage = self._metered_lines(sub, *invoice["_usage_period"])
            lines.extend(ln for ln in usage if ln["amount"] > 0)
        for line in lines:
            line["invoice"] = invoice["id"]
        invoice["lines"]["total_count"] = len(lines)
        customer = self.store.get("customer", invoice["customer"])
        customer["_invoice_seq"] += 1
        subtotal = sum(ln["amount"] for ln in lines)
        starting_balance = customer["balance"]
        applied = 0
        if subtotal < 0:  # a downgrade's credit waits on the customer's balance
            customer["balance"] += subtotal
        elif starting_balance < 0:
            applied = min(-starting_balance, subtotal)
            customer["balance"] += applied
        amount_due = max(0, subtotal - applied)
        invoice.update(
            status="open",
            number=f"{customer['invoice_prefix']}-{customer['_invoice_seq']:04d}",
            subtotal=subtotal,
            subtotal_excluding_tax=subtotal,
            total=subtotal,
            total_excluding_tax=subtotal,
            amount_due=amount_due,
            amount_remaining=amount_due,
            starting_balance=starting_balance,
            ending_balance=customer["balance"],
            effective_at=at,
            automatically_finalizes_at=None,
        )
        invoice["status_transitions"]["finalized_at"] = at

    def _auto_finalize(self, invoice: dict, at: int) -> None:
        """The grace period is over: finalize, then charge the card on file."""
        self._finalize(invoice, at)
        self.store.emit("invoice.finalized", invoice, at=at)
        self._attempt(invoice, at)
        sub = self.store.find(invoice["_subscription"])
        if sub is not None:
            self._sync_status(sub, at)

    def _render_invoice(self, out: dict) -> dict:
        final = out["status"] != "draft"  # Stripe's hosted page and PDF exist once final
        out["hosted_invoice_url"] = self.store.url(f"/i/{out['id']}") if final else None
        out["invoice_pdf"] = self.store.url(f"/i/{out['id']}/pdf") if final else None
        for line in out["lines"]["data"]:
            shapes.fill_defaults(line)
            line.setdefault("invoice", out["id"])
            line["subtotal"] = line["amount"]
        return out

    def _emit_invoice_lifecycle(self, invoice: dict, at: int) -> None:
        """The events an invoice's life so far produced, in Stripe's order."""
        self.store.emit("invoice.created", invoice, at=at)
        self.store.emit("invoice.finalized", invoice, at=at)
        if invoice["status"] == "paid":
            self.store.emit("invoice.paid", invoice, at=at)
            self.store.emit("invoice.payment_succeeded", invoice, at=at)
        elif invoice["attempted"]:
            self.store.emit("invoice.payment_failed", invoice, at=at)

    def _attempt(
        self, invoice: dict, at: int, *, emit: bool = True, pm_id: str | None = None
    ) -> ApiError | None:
        """Charge an open invoice with the card on file (or `pm_id`)."""
        sub = self.store.find(invoice["_subscription"]) or {}
        customer = self.store.get("customer", invoice["customer"])
        pm_id = (
            pm_id
            or sub.get("default_payment_method")
            or customer["invoice_settings"]["default_payment_method"]
        )
        error = self._charge(pm_id, invoice["amount_remaining"])
        if error is None and invoice["amount_remaining"] > 0:
            self._record_payment(invoice, pm_id, invoice["amount_remaining"], at)
        if invoice["amount_remaining"] > 0:
            invoice["attempt_count"] += 1
            invoice["attempted"] = True
        if error is None:
            invoice.update(
                status="paid",
                amount_paid=invoice["amount_due"],
                amount_remaining=0,
                next_payment_attempt=None,
                default_payment_method=pm_id,
            )
            invoice["status_transitions"]["paid_at"] = at
            if emit:
                self.store.emit("invoice.paid", invoice, at=at)
                self.store.emit("invoice.payment_succeeded", invoice, at=at)
            return None
        retries = invoice["_retries"]
        if sub.get("status") not in ("canceled", "incomplete") and retries < len(RETRY_AFTER_DAYS):
            invoice["next_payment_attempt"] = at + RETRY_AFTER_DAYS[retries] * DAY
        else:
            invoice["next_payment_attempt"] = None
        invoice["_retries"] = retries + 1
        if emit:
            self.store.emit("invoice.payment_failed", invoice, at=at)
        return error

    def pay_invoice(self, iid: str, p: dict | None = None, at: int | None = None) -> dict:
        _allowed(p or {}, {"payment_method", "off_session", "paid_out_of_band"})
        invoice = self.store.get("invoice", iid)
        if invoice["status"] != "open":
            raise ApiError(
                400,
                "Invoice is already paid."
                if invoice["status"] == "paid"
                else f"You can only pay an open invoice; this one is {invoice['status']}.",
                code="invoice_not_open",
            )
        at = at if at is not None else self.now
        error = self._attempt(invoice, at, pm_id=forms.as_str(p or {}, "payment_method"))
        sub = self.store.find(invoice["_subscription"])
        if sub is not None:
            self._sync_status(sub, at)
        if error is not None:
            raise error
        return invoice

    def pay_invoice_with_card(
        self, iid: str, number: str, exp: str, cvc: str, name: str | None = None
    ) -> dict:
        """The hosted invoice page: a new card pays this invoice and becomes the default."""
        invoice = self.store.get("invoice", iid)
        if invoice["status"] != "open":
            raise ApiError(400, "This invoice is not open.")
        customer = self.store.get("customer", invoice["customer"])
        pm = self.attach_card(customer["id"], number, exp, cvc, name)
        self.set_default_card(customer, pm)
        return self.pay_invoice(iid, {"payment_method": pm["id"]})

    def list_invoices(self, p: dict) -> dict:
        customer = forms.as_str(p, "customer")
        subscription = forms.as_str(p, "subscription")
        status = forms.as_str(p, "status")
        objs = self.store.all(
            "invoice",
            lambda i: (
                (customer is None or i["customer"] == customer)
                and (subscription is None or i["_subscription"] == subscription)
                and (status is None or i["status"] == status)
            ),
        )
        return self.store.page(objs, p, "/v1/invoices")

    def _sync_status(self, sub: dict, at: int) -> None:
        """past_due while an invoice is unpaid and retries remain, unpaid after the last
        retry, active (or trialing) again once nothing is owed."""
        if sub["status"] in ("canceled", "incomplete_expired"):
            return
        before = self.store.render(sub)
        open_ = self.store.all(
            "invoice",
            lambda i: i["_subscription"] == sub["id"] and i["status"] == "open" and i["attempted"],
        )
        if open_:
            exhausted = any(i["next_payment_attempt"] is None for i in open_)
            if sub["status"] == "incomplete":
                pass
            else:
                sub["status"] = "unpaid" if exhausted else "past_due"
        elif sub["status"] in ("past_due", "unpaid", "incomplete"):
            trial = sub["trial_end"] and sub["trial_end"] > at
            sub["status"] = "trialing" if trial else "active"
        self._emit_updated(sub, before, at)
