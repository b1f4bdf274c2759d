"""What the emulated Stripe does: customers, products and prices, cards, Checkout, the
customer portal, subscriptions with proration, invoices with retries, billing meters, and
the work the clock makes due (renewals, payment retries, trial ends, session expiry).

Shapes follow the API version stripe-python pins (see store.API_VERSION): billing periods
live on subscription items, an invoice names its subscription under
`parent.subscription_details`.
"""

from __future__ import annotations

from devtools.emulators.stripe import forms, shapes
from devtools.emulators.stripe.base import (
    TRIAL_WILL_END_SECONDS,
    _type_matches,
)
from devtools.emulators.stripe.catalog import CatalogMixin
from devtools.emulators.stripe.checkout import CheckoutMixin
from devtools.emulators.stripe.customers import CustomersMixin
from devtools.emulators.stripe.invoices import InvoicesMixin
from devtools.emulators.stripe.meters import MetersMixin
from devtools.emulators.stripe.payments import PaymentsMixin
from devtools.emulators.stripe.store import Store
from devtools.emulators.stripe.subscriptions import SubscriptionsMixin


class Stripe(
    CustomersMixin,
    CatalogMixin,
    CheckoutMixin,
    SubscriptionsMixin,
    InvoicesMixin,
    MetersMixin,
    PaymentsMixin,
):
    """The emulated account. Every public method runs under the store's lock."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.renderers.update(
            {
                "subscription": self._render_subscription,
                "invoice": self._render_invoice,
                "checkout.session": self._render_checkout_session,
                "billing_portal.session": self._render_portal_session,
            }
        )
        store.includables[("checkout.session", "line_items")] = self._checkout_line_items
        store.includables[("invoice", "payments")] = self._invoice_payments
        store.fill = shapes.fill_defaults

    # === events ==========================================================================

    def list_events(self, p: dict) -> dict:
        etype = forms.as_str(p, "type")
        types = set(forms.as_list(p, "types"))
        created = p.get("created")
        bounds = created if isinstance(created, dict) else ({"eq": created} if created else {})
        ops = {
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
            "eq": lambda a, b: a == b,
        }
        checks = [(ops[k], int(v)) for k, v in bounds.items() if k in ops]

        def keep(e: dict) -> bool:
            if etype and not _type_matches(e["type"], etype):
                return False
            if types and e["type"] not in types:
                return False
            return all(op(e["created"], v) for op, v in checks)

        return self.store.page(self.store.all("event", keep), p, "/v1/events")

    # === the clock =======================================================================

    def process_due(self, until: int) -> int:
        """Do everything that became due up to `until`, earliest first, each at its own
        moment: trial-end notices, renewals, finalizing renewal invoices after their grace
        hour, payment retries, Checkout expiry."""
        for done in range(100_000):
            due = self._next_due(until)
            if due is None:
                return done
            at, action, obj = due
            action(obj, at)
        raise RuntimeError("process_due did not settle")

    def _next_due(self, until: int):
        candidates = []
        for sub in self.store.all("subscription"):
            if sub["status"] in ("canceled", "incomplete", "incomplete_expired"):
                continue
            if (
                sub["status"] == "trialing"
                and not sub["_trial_will_end_sent"]
                and sub["trial_end"] - TRIAL_WILL_END_SECONDS <= until
            ):
                at = max(sub["trial_end"] - TRIAL_WILL_END_SECONDS, sub["created"])
                candidates.append((at, 0, self._trial_will_end, sub))
            end = self._period(sub)[1]
            if end <= until:
                candidates.append((end, 1, self._renew, sub))
        for inv in self.store.all(
            "invoice",
            lambda i: (
                i["status"] == "open"
                and i["next_payment_attempt"] is not None
                and i["next_payment_attempt"] <= until
            ),
        ):
            candidates.append((inv["next_payment_attempt"], 2, self._retry, inv))
        for inv in self.store.all(
            "invoice",
            lambda i: (
                i["status"] == "draft"
                and i["automatically_finalizes_at"] is not None
                and i["automatically_finalizes_at"] <= until
            ),
        ):
            candidates.append((inv["automatically_finalizes_at"], 2, self._auto_finalize, inv))
        for cs in self.store.all(
            "checkout.session", lambda s: s["status"] == "open" and s["expires_at"] <= until
        ):
            candidates.append((cs["expires_at"], 3, self._expire, cs))
        if not candidates:
            return None
        at, _, action, obj = min(candidates, key=lambda c: (c[0], c[1]))
        return at, action, obj

    def _trial_will_end(self, sub: dict, at: int) -> None:
        sub["_trial_will_end_sent"] = True
        self.store.emit("customer.subscription.trial_will_end", sub, at=at)

    def _expire(self, session: dict, at: int) -> None:
        self.expire_checkout_session(session["id"], at=at)

    def _retry(self, invoice: dict, at: int) -> None:
        self._attempt(invoice, at)
        sub = self.store.find(invoice["_subscription"])
        if sub is not None:
            self._sync_status(sub, at)

    def _renew(self, sub: dict, at: int, *, draft: bool = True) -> None:
        """A period ended at `at`: cancel if asked to, else bill the next period in advance;
        the last one's metered usage in arrears and pending prorations go on the same
        invoice. The invoice is a draft for an hour (see InvoicesMixin._new_invoice);
        `draft=False` finalizes and charges it at once (a trial ended early)."""
        start, end = self._period(sub)
        if sub["cancel_at_period_end"] or (sub["cancel_at"] and sub["cancel_at"] <= at):
            pending = sub["_pending_lines"]
            sub["_pending_lines"] = []
            if pending or self._has_metered(sub):
                invoice = self._new_invoice(
                    sub, pending, "subscription_cycle", at, period=(start, end), draft=True
                )
                self.store.emit("invoice.created", invoice, at=at)
            self._end_subscription(sub, at)
            return
        before = self.store.render(sub)
        new_end = self._next_boundary(sub, end)
        for item in sub["_items"]:
            item["current_period_start"], item["current_period_end"] = end, new_end
        if sub["status"] == "trialing":
            sub["status"] = "active"
        lines = self._licensed_lines(sub, end, new_end) + sub["_pending_lines"]
        sub["_pending_lines"] = []
        invoice = self._new_invoice(
            sub, lines, "subscription_cycle", at, period=(start, end), draft=draft
        )
        self._emit_updated(sub, before, at)
        if draft:
            self.store.emit("invoice.created", invoice, at=at)
            return
        self._attempt(invoice, at, emit=False)
        self._emit_invoice_lifecycle(invoice, at)
        self._sync_status(sub, at)

    def _has_metered(self, sub: dict) -> bool:
        return any(
            self.store.get("price", it["_price"])["recurring"]["usage_type"] == "metered"
            for it in sub["_items"]
        )
