"""Timestamps as the API and our files spell them (ISO 8601 with `Z` or an offset), read in
one place into aware UTC datetimes, and the UTC day of a moment.

A snapshot's `taken_at`, a key's expiry and a history sighting all go through here, so a
`taken_at` written with another offset (`2026-11-30T23:30:00-02:00`) lands on the same UTC
day everywhere. A timestamp without an offset is taken as UTC here; a snapshot's `taken_at`
without one never gets this far (the snapshot reader refuses it: its day would depend on the
zone of whoever wrote it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 date and time as an aware UTC datetime; ValueError when it is not one."""
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_utc(value: object) -> datetime | None:
    """`parse_timestamp` for a value that may be anything: None when it is no timestamp."""
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def utc_day(moment: datetime | date) -> date:
    """The UTC day of a moment (a naive datetime is taken as UTC); a date is its own day."""
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.date()
    return moment
