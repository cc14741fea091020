"""The month a run audits (`--period`): `YYYY-MM`, `current` or `previous`, in UTC.

Cron on the 1st closes the month that ended (`previous`); a snapshot taken outside its period
(a late run, a stored snapshot) is legitimate but every report must say so, hence
`days_outside` and `outside_notice`. `today` is always passed in, so tests choose the date.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime

from audit.support.errors import InputError
from audit.support.timestamps import utc_day

CURRENT = "current"
PREVIOUS = "previous"
FIRST_YEAR = 2000  # no SPLA audit predates it; an earlier "current" means a wrong clock
EXPECTED = f"expected YYYY-MM from {FIRST_YEAR} (e.g. 2026-11), {CURRENT} or {PREVIOUS}"
_PATTERN = re.compile(r"(\d{4})-(0[1-9]|1[0-2])", re.ASCII)


@dataclass(frozen=True, order=True)
class Period:
    """One calendar month (UTC); `start` and `end` are its first and last days."""

    year: int
    month: int

    @property
    def label(self) -> str:
        """`YYYY-MM`: the run folder's name and findings.json's `run.period`."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def previous(self) -> Period:
        if self.month == 1:
            return Period(self.year - 1, 12)
        return Period(self.year, self.month - 1)

    @classmethod
    def of(cls, day: date) -> Period:
        """The month `day` falls in."""
        return cls(day.year, day.month)

    @classmethod
    def from_label(cls, label: str) -> Period:
        """A stored `YYYY-MM` (findings.json, a run folder's name); ValueError otherwise."""
        match = _PATTERN.fullmatch(label)
        if match is None:
            raise ValueError(f"expected a period YYYY-MM, got {label!r}")
        return cls(int(match[1]), int(match[2]))

    def days_outside(self, taken_at: datetime | date) -> int:
        """Days between the period and a snapshot's UTC day: 0 inside, > 0 after its last
        day, < 0 before its first day. A naive datetime is taken as UTC."""
        day = utc_day(taken_at)
        if day > self.end:
            return (day - self.end).days
        if day < self.start:
            return (day - self.start).days
        return 0

    def outside_notice(self, taken_at: datetime | date) -> str | None:
        """The sentence every report prints when the snapshot falls outside the period
        ("taken 1 day after the period ended"); None when it falls inside."""
        days = self.days_outside(taken_at)
        if days == 0:
            return None
        count = f"{abs(days)} day{'s' if abs(days) != 1 else ''}"
        if days > 0:
            return f"taken {count} after the period ended"
        return f"taken {count} before the period began"

    def __str__(self) -> str:
        return self.label


def parse_period(text: str | None, today: date) -> Period:
    """`--period`: None or `current` is `today`'s month, `previous` the one before, else
    `YYYY-MM`. A month from before 2000 or that has not started yet is an InputError."""
    spelled = CURRENT if text is None else text.strip()
    if spelled.lower() in (CURRENT, PREVIOUS):
        period = Period.of(today)
        if spelled.lower() == PREVIOUS:
            period = period.previous()
        if period.year < FIRST_YEAR:
            raise InputError(
                f"--period {spelled.lower()}: {period.label} is before {FIRST_YEAR}; "
                f"is the system clock right (today is {today.isoformat()}, UTC)?"
            )
    elif (match := _PATTERN.fullmatch(spelled)) and int(match[1]) >= FIRST_YEAR:
        period = Period(int(match[1]), int(match[2]))
    else:
        raise InputError(f"--period {text!r}: {EXPECTED}")
    if period.start > today:
        raise InputError(
            f"--period {text}: {period.label} has not started yet "
            f"(today is {today.isoformat()}, UTC)"
        )
    return period
