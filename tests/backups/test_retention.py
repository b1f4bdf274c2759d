"""Retention: the newest backup of each of the last 7 days, 4 ISO weeks and 12 months that
have one (a pure function, over many calendars), then the rest deleted from the bucket."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from railsaas.platform import backups
from railsaas.platform.backups import to_keep


def at(d: date, hour: int = 3, minute: int = 17) -> datetime:
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


def test_a_year_of_daily_backups():
    taken = [at(d) for d in days(date(2025, 10, 1), date(2026, 12, 3))]  # Thursday
    kept = {t.date() for t in to_keep(taken)}
    daily = set(days(date(2026, 11, 27), date(2026, 12, 3)))
    weekly = {date(2026, 11, 22), date(2026, 11, 15)}  # Sundays: ends of ISO weeks 47, 46
    monthly = {
        date(2026, 10, 31),
        date(2026, 9, 30),
        date(2026, 8, 31),
        date(2026, 7, 31),
        date(2026, 6, 30),
        date(2026, 5, 31),
        date(2026, 4, 30),
        date(2026, 3, 31),
        date(2026, 2, 28),
        date(2026, 1, 31),
    }  # Nov 30 and Dec 3 are daily already
    assert kept == daily | weekly | monthly
    assert len(kept) == 19


def test_only_the_newest_of_a_day_counts():
    taken = [at(d, h) for d in days(date(2026, 3, 1), date(2026, 3, 10)) for h in (1, 9, 22)]
    kept = to_keep(taken, daily=3, weekly=0, monthly=0)
    assert kept == {at(date(2026, 3, d), 22) for d in (8, 9, 10)}


def test_backups_that_stopped_are_not_expired_by_the_calendar():
    # Nothing for two months: the last seven backups made are still the seven dailies.
    taken = [at(d) for d in days(date(2026, 1, 1), date(2026, 1, 20))]
    kept = to_keep(taken, daily=7, weekly=0, monthly=0)
    assert {t.date() for t in kept} == set(days(date(2026, 1, 14), date(2026, 1, 20)))


def test_fewer_backups_than_the_rules_keep_all_of_them():
    taken = [at(date(2026, 5, 1)), at(date(2026, 5, 9)), at(date(2026, 6, 2))]
    assert to_keep(taken) == set(taken)


def test_nothing_to_keep_from_nothing():
    assert to_keep([]) == set()
    assert to_keep([at(date(2026, 1, 1))], daily=0, weekly=0, monthly=0) == set()


def test_iso_weeks_cross_the_new_year():
    # 2026-12-31 (Thursday) to 2027-01-03 (Sunday) are ISO week 53 of 2026.
    taken = [
        at(date(2026, 12, 27)),
        at(date(2026, 12, 31)),
        at(date(2027, 1, 2)),
        at(date(2027, 1, 5)),
    ]
    kept = to_keep(taken, daily=0, weekly=3, monthly=0)
    assert kept == {at(date(2027, 1, 5)), at(date(2027, 1, 2)), at(date(2026, 12, 27))}


def test_months_are_calendar_months():
    taken = [
        at(d)
        for d in (
            date(2026, 1, 31),
            date(2026, 2, 1),
            date(2026, 2, 28),
            date(2026, 3, 1),
            date(2026, 3, 31),
        )
    ]
    assert to_keep(taken, daily=0, weekly=0, monthly=2) == {
        at(date(2026, 3, 31)),
        at(date(2026, 2, 28)),
    }


def test_days_are_utc_days():
    # 23:30 and 00:30 in UTC+02:00 are on one UTC day (21:30, 22:30): one daily.
    plus2 = timezone(timedelta(hours=2))
    taken = [
        datetime(2026, 6, 10, 23, 30, tzinfo=plus2),
        datetime(2026, 6, 11, 0, 30, tzinfo=plus2),
    ]
    assert to_keep(taken, daily=5, weekly=0, monthly=0) == {taken[1]}


@pytest.mark.parametrize("step_hours", [5, 24, 31, 24 * 3, 24 * 8, 24 * 40])
def test_keeping_is_stable_and_keeps_the_newest(step_hours):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    taken = [start + timedelta(hours=step_hours * n) for n in range(300)]
    kept = to_keep(taken)
    assert max(taken) in kept
    assert to_keep(kept) == kept  # a second run the same day deletes nothing more
    assert len(kept) <= 7 + 4 + 12


def test_prune_deletes_exactly_what_retention_does_not_keep(s3_server, backup_config, app):
    settings = backups.Settings.from_config(app.config)
    s3 = s3_server.client()
    taken = [at(d) for d in days(date(2026, 6, 1), date(2026, 12, 3))] + [at(date(2026, 12, 3), 1)]
    for t in taken:
        s3.put_object(Bucket=settings.bucket, Key=backups.object_key(settings, t), Body=b"x")
    foreign = [
        "railsaas/README.txt",
        "railsaas/old/railsaas-20200101T000000Z.dump.enc",
        "elsewhere/railsaas-20200101T000000Z.dump.enc",
    ]
    for key in foreign:
        s3.put_object(Bucket=settings.bucket, Key=key, Body=b"not ours")

    deleted = backups.prune(settings, s3)

    left = {o["Key"] for o in s3.list_objects_v2(Bucket=settings.bucket)["Contents"]}
    expected = {backups.object_key(settings, t) for t in to_keep(taken)}
    assert left == expected | set(foreign)
    assert set(deleted) == {backups.object_key(settings, t) for t in taken} - expected
    assert len(expected) == 7 + 2 + 5  # dailies, 2 more Sundays, Jun..Oct (Nov 30 is daily)
    assert backups.prune(settings, s3) == []
