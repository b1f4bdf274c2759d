"""How fresh an instance's status is kept: when the poll next looks at an instance.

An instance's status promises to be at most FRESH_CHANGING old while it changes and
FRESH_SETTLED once settled. Running a step (railsaas.instances.steps) and the poll
(railsaas.instances.poll) both set `next_poll_at` from these, and both read the time from
`now` (the polling benchmark swaps it for a simulated clock in each).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# A due instance waits for the next beat (every POLL_INTERVAL) to be claimed, so each is due
# one interval before its promise runs out.
# How often beat runs the Railway status poll (railsaas.tasks schedules it).
POLL_INTERVAL = timedelta(seconds=3)
FRESH_CHANGING = timedelta(seconds=10)
FRESH_SETTLED = timedelta(minutes=5)
FAST_POLL = timedelta(seconds=3)  # well within FRESH_CHANGING: pages see progress soon
SLOW_POLL = FRESH_SETTLED - POLL_INTERVAL


def now() -> datetime:
    return datetime.now(UTC)
