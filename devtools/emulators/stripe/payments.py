"""What a paid invoice leaves behind: a PaymentIntent, its Charge and the InvoicePayment
that links them to the invoice (since 2025-03-31.basil an invoice names its payments only
through `payments` / `GET /v1/invoice_payments`), and refunds of them."""

from __future__ import annotations

from devtools.emulators.stripe import forms
from devtools.emulators.stripe.base import Base, _allowed
from devtools.emulators.stripe.store import ApiError, new_id


class PaymentsMixin(Base):
    def _record_payment(self, invoice: dict, pm_id: str | None, amount: int, at: int) -> None:
        charge_id, pi_id = new_id("ch", 24), new_id("pi", 24)
        common = {
            "amount": amount,
            "currency": invoice["currency"],
            "customer": invoice["customer"],
            "created": at,
            "livemode": False,
            "metadata": {},
            "payment_method": pm_id,
            "description": None,
        }
        self.store.add(
            {
                "id": pi_id,
                "object": "payment_intent",
                **common,
                "amount_received": amount,
                "status": "succeeded",
                "latest_charge": charge_id,
                "canceled_at": None,
            }
        )
        self.store.add(
            {
                "id": charge_id,
                "object": "charge",
                **common,
                "amount_captured": amount,
                "amount_refunded": 0,
                "captured": True,
                "paid": True,
                "refunded": False,
                "status": "succeeded",
                "payment_intent": pi_id,
                "failure_code": None,
                "failure_message": None,
            }
        )
        self.store.add(
            {
                "id": new_id("inpay", 24),
                "object": "invoice_payment",
                "invoice": invoice["id"],
                "amount_paid": amount,
                "amount_requested": amount,
                "currency": invoice["currency"],
                "created": at,
                "is_default": True,
                "livemode": False,
                "payment": {
                    "type": "payment_intent",
                    "payment_intent": pi_id,
                    "charge": None,
                    "payment_record": None,
                },
                "status": "paid",
                "status_transitions": {"paid_at": at, "canceled_at": None},
            }
        )

    def _invoice_payments(self, invoice: dict) -> dict:
        data = [
            self.store.render(p)
            for p in self.store.all("invoice_payment", lambda p: p["invoice"] == invoice["id"])
        ]
        return {
            "object": "list",
            "data": data,
            "has_more": False,
            "url": f"/v1/invoice_payments?invoice={invoice['id']}",
        }

    def list_invoice_payments(self, p: dict) -> dict:
        invoice = forms.as_str(p, "invoice")
        objs = self.store.all(
            "invoice_payment", lambda o: invoice is None or o["invoice"] == invoice
        )
        return self.store.page(objs, p, "/v1/invoice_payments")

    def create_refund(self, p: dict) -> dict:
        _allowed(p, {"payment_intent", "charge", "amount", "reason", "metadata"})
        pi_id, charge_id = forms.as_str(p, "payment_intent"), forms.as_str(p, "charge")
        if bool(pi_id) == bool(charge_id):
            raise ApiError(
                400,
                "You must pass either a charge or a payment_intent, but not both.",
                param="charge",
            )
        if pi_id:
            pi = self.store.get("payment_intent", pi_id, "payment_intent", "payment_intent")
            charge = self.store.get("charge", pi["latest_charge"])
        else:
            charge = self.store.get("charge", charge_id, param="charge")
        left = charge["amount"] - charge["amount_refunded"]
        amount = forms.as_int(p, "amount", left, minimum=1)
        if left <= 0:
            raise ApiError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        if amount > left:
            raise ApiError(
                400,
                f"Refund amount (${amount / 100:.2f}) is greater than unrefunded"
                f" amount on charge (${left / 100:.2f})",
                param="amount",
                code="amount_too_large",
            )
        refund = {
            "id": new_id("re", 24),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "currency": charge["currency"],
            "created": self.now,
            "reason": forms.as_str(
                p, "reason", choices=("duplicate", "fraudulent", "requested_by_customer")
            ),
            "metadata": forms.metadata(p),
            "status": "succeeded",
        }
        self.store.add(refund)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        self.store.emit("refund.created", refund)
        self.store.emit("charge.refunded", charge)
        return refund
