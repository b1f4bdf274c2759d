"""Billing meters and meter events (identifiers are unique, as Stripe enforces)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from devtools.emulators.stripe import forms
from devtools.emulators.stripe.base import (
    DAY,
    Base,
    _allowed,
)
from devtools.emulators.stripe.store import ApiError, new_id


class MetersMixin(Base):
    # === meters ==========================================================================

    def create_meter(self, p: dict) -> dict:
        _allowed(
            p,
            {
                "display_name",
                "event_name",
                "default_aggregation",
                "customer_mapping",
                "value_settings",
                "event_time_window",
            },
        )
        event_name = forms.as_str(p, "event_name", required=True)
        if self.store.all(
            "billing.meter", lambda m: m["event_name"] == event_name and m["status"] == "active"
        ):
            raise ApiError(
                400,
                f"An active meter with event_name `{event_name}` already exists.",
                param="event_name",
            )
        aggregation = forms.as_dict(p, "default_aggregation")
        mapping = forms.as_dict(p, "customer_mapping")
        values = forms.as_dict(p, "value_settings")
        meter = {
            "id": new_id("mtr_test", 24),
            "object": "billing.meter",
            "status": "active",
            "display_name": forms.as_str(p, "display_name", required=True),
            "event_name": event_name,
            "default_aggregation": {
                "formula": forms.as_str(
                    aggregation, "formula", "sum", choices=("sum", "count", "last")
                )
            },
            "customer_mapping": {
                "type": "by_id",
                "event_payload_key": forms.as_str(
                    mapping, "event_payload_key", "stripe_customer_id"
                ),
            },
            "value_settings": {
                "event_payload_key": forms.as_str(values, "event_payload_key", "value")
            },
            "event_time_window": forms.as_str(p, "event_time_window"),
            "created": self.now,
            "updated": self.now,
            "livemode": False,
            "status_transitions": {"deactivated_at": None},
        }
        self.store.add(meter)
        return meter

    def list_meters(self, p: dict) -> dict:
        status = forms.as_str(p, "status")
        objs = self.store.all("billing.meter", lambda m: status is None or m["status"] == status)
        return self.store.page(objs, p, "/v1/billing/meters")

    def create_meter_event(self, p: dict) -> dict:
        _allowed(p, {"event_name", "payload", "identifier", "timestamp"})
        event_name = forms.as_str(p, "event_name", required=True)
        payload = forms.as_dict(p, "payload")
        meters = self.store.all(
            "billing.meter", lambda m: m["event_name"] == event_name and m["status"] == "active"
        )
        if not meters:
            raise ApiError(
                400, f"No active meter was found for event_name {event_name}.", param="event_name"
            )
        meter = meters[0]
        customer_key = meter["customer_mapping"]["event_payload_key"]
        value_key = meter["value_settings"]["event_payload_key"]
        customer_id = payload.get(customer_key)
        if not customer_id:
            raise ApiError(
                400, f"Missing {customer_key} in payload.", param=f"payload[{customer_key}]"
            )
        self.store.get("customer", customer_id, param=f"payload[{customer_key}]")
        try:
            value = Decimal(
                str(
                    payload.get(
                        value_key, "1" if meter["default_aggregation"]["formula"] == "count" else ""
                    )
                )
            )
        except InvalidOperation:
            raise ApiError(
                400,
                f"The value in payload[{value_key}] must be a number.",
                param=f"payload[{value_key}]",
            ) from None
        timestamp = forms.as_int(p, "timestamp", self.now)
        if timestamp < self.now - 35 * DAY or timestamp > self.now + 300:
            raise ApiError(
                400,
                "Timestamp must be within the past 35 calendar days or up to "
                "5 minutes in the future.",
                param="timestamp",
            )
        identifier = forms.as_str(p, "identifier") or new_id("mev", 20)
        if identifier in self.store.meter_events:
            # What Stripe answers (and marks not worth retrying) for a reused identifier.
            raise ApiError(
                400, f"An event already exists with identifier {identifier}.", param="identifier"
            )
        event = {
            "object": "billing.meter_event",
            "created": self.now,
            "event_name": event_name,
            "identifier": identifier,
            "livemode": False,
            "payload": {k: str(v) for k, v in payload.items()},
            "timestamp": timestamp,
            "_customer": customer_id,
            "_value": value,
            "_meter": meter["id"],
        }
        self.store.meter_events[identifier] = event
        return event

    def meter_total(self, meter: dict, customer_id: str, start: int, end: int) -> Decimal:
        events = [
            e
            for e in self.store.meter_events.values()
            if e["_meter"] == meter["id"]
            and e["_customer"] == customer_id
            and start <= e["timestamp"] < end
        ]
        formula = meter["default_aggregation"]["formula"]
        if formula == "count":
            return Decimal(len(events))
        if formula == "last":
            return max(events, key=lambda e: e["timestamp"])["_value"] if events else Decimal(0)
        return sum((e["_value"] for e in events), Decimal(0))

    def meter_summaries(self, mid: str, p: dict) -> dict:
        meter = self.store.get("billing.meter", mid, "billing meter")
        customer = forms.as_str(p, "customer", required=True)
        start = forms.as_int(p, "start_time", required=True)
        end = forms.as_int(p, "end_time", required=True)
        total = self.meter_total(meter, customer, start, end)
        summary = {
            "id": f"mtrusg_{mid[-12:]}{start}",
            "object": "billing.meter_event_summary",
            "aggregated_value": float(total),
            "start_time": start,
            "end_time": end,
            "meter": mid,
            "livemode": False,
        }
        return {
            "object": "list",
            "data": [summary],
            "has_more": False,
            "url": f"/v1/billing/meters/{mid}/event_summaries",
        }
