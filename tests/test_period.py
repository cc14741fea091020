"""`--period` and where a snapshot falls against it, with injected dates (never the clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from audit.model.period import Period, parse_period
from audit.support.errors import InputError


@pytest.mark.parametrize(
    ("text", "today", "label"),
    [
        (None, date(2026, 11, 29), "2026-11"),
        ("current", date(2026, 11, 1), "2026-11"),
        ("CURRENT", date(2026, 11, 30), "2026-11"),
        ("previous", date(2026, 12, 1), "2026-11"),  # cron on the 1st closes November
        ("previous", date(2027, 1, 1), "2026-12"),  # across the new year
        ("previous", date(2026, 3, 31), "2026-02"),
        ("2026-11", date(2026, 11, 1), "2026-11"),  # started today
        ("2000-01", date(2026, 11, 29), "2000-01"),
        (" 2026-10 ", date(2026, 11, 29), "2026-10"),
    ],
)
def test_period_spellings(text: str | None, today: date, label: str) -> None:
    assert parse_period(text, today).label == label


@pytest.mark.parametrize(
    ("label", "start", "end"),
    [
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),  # leap year
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2000-02", date(2000, 2, 1), date(2000, 2, 29)),  # divisible by 400: leap
        ("2026-12", date(2026, 12, 1), date(2026, 12, 31)),
        ("2026-01", date(2026, 1, 1), date(2026, 1, 31)),
        ("2026-04", date(2026, 4, 1), date(2026, 4, 30)),
    ],
)
def test_month_bounds(label: str, start: date, end: date) -> None:
    period = parse_period(label, date(2026, 12, 31))
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    ("text", "today"),
    [
        ("2026-12", date(2026, 11, 30)),  # next month, on the last day of this one
        ("2027-01", date(2026, 12, 31)),
        ("2999-01", date(2026, 11, 29)),
    ],
)
def test_a_period_that_has_not_started_is_refused(text: str, today: date) -> None:
    with pytest.raises(InputError, match="has not started yet") as raised:
        parse_period(text, today)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("text", [None, "current", "previous"])
def test_a_clock_in_1999_is_refused(text: str | None) -> None:
    with pytest.raises(InputError, match="before 2000; is the system clock right"):
        parse_period(text, date(1999, 6, 15))


def test_previous_in_january_2000_is_refused() -> None:
    with pytest.raises(InputError, match="1999-12 is before 2000"):
        parse_period("previous", date(2000, 1, 1))


@pytest.mark.parametrize("text", ["1999-12", "2026-13", "2026-1", "26-11", "last", ""])
def test_nonsense_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(InputError, match="expected YYYY-MM from 2000") as raised:
        parse_period(text, date(2026, 11, 29))
    assert "\n" not in str(raised.value)


OCTOBER = Period(2026, 10)


@pytest.mark.parametrize(
    ("taken_at", "days", "notice"),
    [
        (datetime(2026, 10, 1, 0, 0, tzinfo=UTC), 0, None),
        (datetime(2026, 10, 31, 23, 59, tzinfo=UTC), 0, None),
        (datetime(2026, 11, 1, 0, 0, tzinfo=UTC), 1, "taken 1 day after the period ended"),
        (datetime(2026, 11, 29, 8, 0, tzinfo=UTC), 29, "taken 29 days after the period ended"),
        (date(2026, 9, 30), -1, "taken 1 day before the period began"),
        (date(2026, 9, 28), -3, "taken 3 days before the period began"),
        # 00:30 in Paris (UTC+1) on 1 November is still 31 October in UTC.
        (datetime(2026, 11, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), 0, None),
        (datetime(2026, 11, 1, 0, 30), 1, "taken 1 day after the period ended"),  # naive: UTC
    ],
)
def test_snapshot_outside_its_period(taken_at: datetime | date, days: int, notice: str) -> None:
    assert OCTOBER.days_outside(taken_at) == days
    assert OCTOBER.outside_notice(taken_at) == notice


def test_december_and_january_neighbours() -> None:
    assert Period(2026, 1).previous() == Period(2025, 12)
    assert Period(2026, 12).days_outside(date(2027, 1, 1)) == 1
    assert Period(2027, 1).days_outside(date(2026, 12, 31)) == -1
    assert str(Period(2026, 3)) == "2026-03"
