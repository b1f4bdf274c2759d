"""How fresh an instance's status is kept: when the poll next looks at an instance.

An instance's status promises to be at most FRESH_CHANGING old while it changes and
FRESH_SETTLED once settled. Running a step (railsaas.instances.steps) and the poll
(railsaas.instances.poll) both set `next_poll_at` from these, and both read the time from
`now` (the polling benchmark swaps it for a simulated clock in each).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app, has_app_context

# A due instance waits for the next beat (every POLL_INTERVAL) to be claimed, so each is due
# one interval before its promise runs out.
# How often beat runs the Railway status poll (railsaas.tasks schedules it).
POLL_INTERVAL = timedelta(seconds=3)
FRESH_CHANGING = timedelta(seconds=10)
FRESH_SETTLED = timedelta(minutes=5)
FAST_POLL = timedelta(seconds=3)  # well within FRESH_CHANGING: pages see progress soon
SLOW_POLL = FRESH_SETTLED - POLL_INTERVAL
# On Hobby (1,000 requests an hour) a poll every 3 s while anything is in flight would cost
# 1,200 an hour on its own: changing instances are looked at less often there, leaving
# most of the hour to deploys, logs and metrics (~300 batched polls an hour on Hobby).
FAST_POLL_BY_PLAN = {
    "free": timedelta(seconds=60),
    "hobby": timedelta(seconds=12),
    "pro": FAST_POLL,
}


def fast_poll() -> timedelta:
    """How soon a changing instance is looked at again, for the configured Railway plan."""
    plan = (current_app.config.get("RAILWAY_PLAN") or "pro") if has_app_context() else "pro"
    return FAST_POLL_BY_PLAN.get(str(plan).strip().lower(), FAST_POLL)


def now() -> datetime:
    return datetime.now(UTC)
