"""What every part of the emulated account shares: constants, the test cards, calendar
arithmetic, parameter checks, and the `Base` the resource mixins build on."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

from devtools.emulators.stripe.store import ApiError, Store

DAY = 86400
# Smart-retry stand-in: days after the previous failed attempt; after the last, `unpaid`.
RETRY_AFTER_DAYS = (3, 5, 7)
TRIAL_WILL_END_SECONDS = 3 * DAY
CHECKOUT_TTL_SECONDS = DAY
# Stripe finalizes a renewal invoice an hour after creating it (its default grace period).
FINALIZE_GRACE_SECONDS = 3600

# Stripe's test cards: number -> (brand, behaviour). 0341 attaches but every charge fails.
TEST_CARDS: dict[str, tuple[str, str]] = {
    "4242424242424242": ("visa", "ok"),
    "4000056655665556": ("visa", "ok"),
    "5555555555554444": ("mastercard", "ok"),
    "4000000000000002": ("visa", "generic_decline"),
    "4000000000009995": ("visa", "insufficient_funds"),
    "4000000000000341": ("visa", "charge_fails"),
}
DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "charge_fails": "Your card was declined.",
    "test_mode_live_card": "Your card was declined. Your request was in test mode, but used "
    "a non test card. For a list of valid test cards, visit: "
    "https://stripe.com/docs/testing.",
}


def add_interval(ts: int, interval: str, count: int, anchor_day: int) -> int:
    """The next period boundary: calendar months keep the anchor day (clamped to the month's
    length, so Jan 31 -> Feb 28 -> Mar 31), as Stripe's billing cycle anchor does."""
    if interval == "day":
        return ts + count * DAY
    if interval == "week":
        return ts + count * 7 * DAY
    dt = datetime.fromtimestamp(ts, UTC)
    months = count * (12 if interval == "year" else 1)
    year, month0 = divmod(dt.month - 1 + months, 12)
    year += dt.year
    day = min(anchor_day, calendar.monthrange(year, month0 + 1)[1])
    return int(dt.replace(year=year, month=month0 + 1, day=day).timestamp())


def _money(cents: int, currency: str) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{currency.upper()} {abs(cents) / 100:,.2f}"


def _date(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%b %-d, %Y")


def _allowed(params: dict, allowed: set[str]) -> None:
    for key in params:
        if key not in allowed and key != "expand":
            raise ApiError(
                400, f"Received unknown parameter: {key}", param=key, code="parameter_unknown"
            )


def _type_matches(actual: str, wanted: str) -> bool:
    """`type=invoice.*` matches every invoice event, as Stripe's filter does."""
    if wanted.endswith(".*"):
        return actual.startswith(wanted[:-1])
    return actual == wanted


def _parse_expiry(exp: str) -> tuple[int | None, int | None]:
    raw = "".join(ch for ch in (exp or "") if ch.isdigit() or ch == "/")
    if "/" in raw:
        month_s, _, year_s = raw.partition("/")
    elif len(raw) in (4, 6):
        month_s, year_s = raw[:2], raw[2:]
    else:
        return None, None
    try:
        month, year = int(month_s), int(year_s)
    except ValueError:
        return None, None
    if not 1 <= month <= 12:
        return None, None
    if year < 100:
        year += 2000
    return month, year


class Base:
    """The account's state and clock, shared by the resource mixins."""

    store: Store

    @property
    def now(self) -> int:
        return self.store.clock.now()
