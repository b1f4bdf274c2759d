"""Invoices: lines, balances, payment attempts and retries, hosted payment."""

from __future__ import annotations

from decimal import Decimal

from devtools.emulators.stripe import forms
from devtools.emulators.stripe.base import (
    DAY,
    RETRY_AFTER_DAYS,
    Base,
    _allowed,
    _money,
)
from devtools.emulators.stripe.store import ApiError, new_id


class InvoicesMixin(Base):
    # === invoices ========================================================================

    def _line(self, sub: dict, price: dict, amount: int, qty: int | None, desc: str,
              start: int, end: int, *, proration: bool = False,
              item_id: str | None = None) -> dict:
        return {
            "id": new_id("il", 24), "object": "line_item", "amount": amount,
            "currency": price["currency"], "description": desc, "quantity": qty,
            "period": {"start": start, "end": end}, "livemode": False, "metadata": {},
            "pricing": {"type": "price_details", "unit_amount_decimal":
                        price["unit_amount_decimal"],
                        "price_details": {"price": price["id"], "product": price["product"]}},
            "parent": {"type": "subscription_item_details", "subscription_item_details": {
                "subscription": sub["id"], "subscription_item": item_id,
                "proration": proration, "invoice_item": None}},
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
            lines.append(self._line(sub, price, amount, qty, desc, start, end,
                                    item_id=item["id"]))
        return lines

    def _metered_lines(self, sub: dict, start: int, end: int) -> list:
        lines = []
        for item in sub["_items"]:
            price = self.store.get("price", item["_price"])
            if price["recurring"]["usage_type"] != "metered":
                continue
            meter = self.store.get("billing.meter", price["recurring"]["meter"])
            quantity = self.meter_total(meter, sub["customer"], start, end)
            amount = int((quantity * Decimal(price["unit_amount_decimal"]))
                         .to_integral_value())
            desc = f"{self._price_label(price)} (usage: {format(quantity.normalize(), 'f')})"
            lines.append(self._line(sub, price, amount, int(quantity), desc, start, end,
                                    item_id=item["id"]))
        return lines

    def _new_invoice(self, sub: dict, lines: list[dict], reason: str, at: int) -> dict:
        customer = self.store.get("customer", sub["customer"])
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
        start = min((ln["period"]["start"] for ln in lines), default=at)
        end = max((ln["period"]["end"] for ln in lines), default=at)
        invoice_id = new_id("in", 24)
        invoice = {
            "id": invoice_id, "object": "invoice", "customer": sub["customer"],
            "customer_email": customer["email"], "customer_name": customer["name"],
            "status": "open", "number": f"{customer['invoice_prefix']}-"
                                        f"{customer['_invoice_seq']:04d}",
            "currency": sub["currency"], "subtotal": subtotal, "total": subtotal,
            "amount_due": amount_due, "amount_paid": 0, "amount_remaining": amount_due,
            "starting_balance": starting_balance, "ending_balance": customer["balance"],
            "created": at, "period_start": start, "period_end": end,
            "billing_reason": reason, "attempt_count": 0, "attempted": False,
            "next_payment_attempt": None, "collection_method": "charge_automatically",
            "description": None, "livemode": False, "metadata": {},
            "default_payment_method": None, "auto_advance": True,
            "effective_at": at, "due_date": None,
            "lines": {"object": "list", "data": lines, "has_more": False,
                      "total_count": len(lines), "url": f"/v1/invoices/{invoice_id}/lines"},
            "parent": {"type": "subscription_details", "quote_details": None,
                       "subscription_details": {"subscription": sub["id"],
                                                "metadata": dict(sub["metadata"])}},
            "status_transitions": {"finalized_at": at, "paid_at": None, "voided_at": None,
                                   "marked_uncollectible_at": None},
            "_subscription": sub["id"], "_retries": 0,
        }
        self.store.add(invoice)
        sub["latest_invoice"] = invoice_id
        return invoice

    def _render_invoice(self, out: dict) -> dict:
        out["hosted_invoice_url"] = self.store.url(f"/i/{out['id']}")
        out["invoice_pdf"] = self.store.url(f"/i/{out['id']}/pdf")
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

    def _attempt(self, invoice: dict, at: int, *, emit: bool = True,
                 pm_id: str | None = None) -> ApiError | None:
        """Charge an open invoice with the card on file (or `pm_id`)."""
        sub = self.store.find(invoice["_subscription"]) or {}
        customer = self.store.get("customer", invoice["customer"])
        pm_id = (pm_id or sub.get("default_payment_method")
                 or customer["invoice_settings"]["default_payment_method"])
        error = self._charge(pm_id, invoice["amount_remaining"])
        if invoice["amount_remaining"] > 0:
            invoice["attempt_count"] += 1
            invoice["attempted"] = True
        if error is None:
            invoice.update(status="paid", amount_paid=invoice["amount_due"],
                           amount_remaining=0, next_payment_attempt=None,
                           default_payment_method=pm_id)
            invoice["status_transitions"]["paid_at"] = at
            if emit:
                self.store.emit("invoice.paid", invoice, at=at)
                self.store.emit("invoice.payment_succeeded", invoice, at=at)
            return None
        retries = invoice["_retries"]
        if sub.get("status") not in ("canceled", "incomplete") and \
                retries < len(RETRY_AFTER_DAYS):
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
            raise ApiError(400, "Invoice is already paid." if invoice["status"] == "paid"
                           else f"You can only pay an open invoice; this one is "
                                f"{invoice['status']}.", code="invoice_not_open")
        at = at if at is not None else self.now
        error = self._attempt(invoice, at, pm_id=forms.as_str(p or {}, "payment_method"))
        sub = self.store.find(invoice["_subscription"])
        if sub is not None:
            self._sync_status(sub, at)
        if error is not None:
            raise error
        return invoice

    def pay_invoice_with_card(self, iid: str, number: str, exp: str, cvc: str,
                              name: str | None = None) -> dict:
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
        objs = self.store.all("invoice", lambda i: (
            (customer is None or i["customer"] == customer)
            and (subscription is None or i["_subscription"] == subscription)
            and (status is None or i["status"] == status)))
        return self.store.page(objs, p, "/v1/invoices")

    def _sync_status(self, sub: dict, at: int) -> None:
        """past_due while an invoice is unpaid and retries remain, unpaid after the last
        retry, active (or trialing) again once nothing is owed."""
        if sub["status"] in ("canceled", "incomplete_expired"):
            return
        before = self.store.render(sub)
        open_ = self.store.all("invoice", lambda i: i["_subscription"] == sub["id"]
                               and i["status"] == "open" and i["attempted"])
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
