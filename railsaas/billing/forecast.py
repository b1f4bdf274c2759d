"""Where this period's bill ends at the current rate: usage so far / time elapsed x the
period's length, plus the plan fee. Usage so far is read from the roll-up (collected hourly),
so the rate is a little behind the clock; before a day has passed there is too little to
extrapolate from and no forecast is made.

The cap warning: the forecast spend reaches the spend cap while the spend so far has not,
so the owner can raise the cap or stop something before instances are stopped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from railsaas.billing.usage import Period

MIN_ELAPSED = timedelta(days=1)


@dataclass(frozen=True)
class Forecast:
    usage_cents: int  # spend by the period's end at the current rate (customer prices)
    total_cents: int  # what the period's bill comes to: fee + usage beyond what is included
    cap_cents: int | None
    spend_cents: int  # so far

    @property
    def crosses_cap(self) -> bool:
        """The forecast reaches the cap before the spend does."""
        return self.cap_cents is not None and self.spend_cents < self.cap_cents <= self.usage_cents


def forecast(
    *,
    spend_cents: int,
    period: Period,
    now: datetime,
    fee_cents: int = 0,
    included_cents: int = 0,
    cap_cents: int | None = None,
) -> Forecast | None:
    elapsed = min(now, period.end) - period.start
    length = period.end - period.start
    if elapsed < MIN_ELAPSED or length <= timedelta(0):
        return None
    usage = round(spend_cents * (length / elapsed))
    return Forecast(
        usage_cents=usage,
        total_cents=fee_cents + max(0, usage - included_cents),
        cap_cents=cap_cents,
        spend_cents=spend_cents,
    )
