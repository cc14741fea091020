"""The daily observation: a snapshot kept as DIR/observations/YYYY-MM-DD.json.gz and recorded
in DIR/history.sqlite as that UTC day's observation (a second one of the day replaces it).

The collection itself is the caller's (`observe` collects like `run`, or reads a stored
snapshot); this module only keeps and records it, so the demo and the command share the path.
A snapshot's day is its `taken_at` converted to UTC, in `observe` and `run` alike; a day
before 2000 or after today (UTC) is an input error, whether it comes from `--date` or from a
stored snapshot.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from audit.evaluate.inventory import inventory_of
from audit.history.observations import OBSERVATIONS_DIR, observation_of
from audit.history.publish import publishing
from audit.history.store import DEFAULT_WAIT_S, HISTORY_FILE, HistoryStore
from audit.model.snapshot import Snapshot
from audit.support.errors import InputError

FIRST_DAY = date(2000, 1, 1)  # no earlier day is a day the tool can have observed
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Observed:
    """What `record_day` stored."""

    day: date
    path: Path
    snapshot_sha256: str
    vms: int
    replaced: bool  # the day had an observation already
    kept: bool = False  # this one was incomplete and the day's stored one complete: not stored


def parse_day(text: str, today: date) -> date:
    """`--date YYYY-MM-DD`: a UTC day from 2000-01-01 to today; any other form (an ISO week
    `2026-W48-1`, an ordinal `2026-335`, `20261130`) or day is an input error."""
    try:
        if not _DAY.fullmatch(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--date {text!r}: expected YYYY-MM-DD (e.g. 2026-11-03)") from None
    problem = day_problem(day, today)
    if problem:
        raise InputError(f"--date {text!r}: {problem}")
    return day


def day_problem(day: date, today: date) -> str | None:
    """Why `day` cannot be an observed day (before 2000, after today), or None."""
    if day < FIRST_DAY:
        return f"before {FIRST_DAY.isoformat()}, earlier than any observation"
    if day > today:
        return f"a future day (today is {today.isoformat()}, UTC)"
    return None


def checked_day(snapshot: Snapshot, today: date, source: Path | None = None) -> date:
    """The snapshot's UTC day (`RunMeta.day`), which must be a day it can have been taken on:
    a snapshot of a future day or before 2000 is an input error naming the file (`source`)
    or the endpoint."""
    day = snapshot.meta.day
    problem = day_problem(day, today)
    if problem:
        where = source if source is not None else snapshot.meta.endpoint or "the collection"
        raise InputError(
            f"{where}: field run.taken_at: {snapshot.meta.taken_at!r} is UTC day "
            f"{day.isoformat()}, {problem}"
        )
    return day


def day_file(out_dir: Path, day: date | str) -> Path:
    """DIR/observations/YYYY-MM-DD.json.gz: the snapshot a day's observation counted."""
    label = day if isinstance(day, str) else day.isoformat()
    return out_dir / OBSERVATIONS_DIR / f"{label}.json.gz"


def record_day(
    out_dir: Path,
    snapshot: Snapshot,
    snapshot_bytes: bytes,
    day: date,
    wait_s: float = DEFAULT_WAIT_S,
    source: str = "observe",
) -> Observed:
    """Keep the snapshot and record it as `day`'s observation (`source`: how it was made, one
    of audit.history.observations.SOURCES), both or neither: the file is moved into place with
    the history's COMMIT (audit/history/publish.py). Another account's snapshot is refused."""
    digest = hashlib.sha256(snapshot_bytes).hexdigest()
    path = day_file(out_dir, day)
    recorded_at = datetime.now(UTC).isoformat(timespec="seconds")
    record = observation_of(inventory_of(snapshot), digest, day, source, recorded_at)
    with (
        HistoryStore.open(out_dir / HISTORY_FILE, wait_s) as history,
        publishing(history) as publish,
    ):
        stored = history.observation_complete(day.isoformat())
        if not history.record_observation(record):
            return Observed(day, path, digest, len(record.vms), replaced=False, kept=True)
        publish.file(path, snapshot_bytes, digest)
    return Observed(day, path, digest, len(record.vms), replaced=stored is not None)
