"""The daily observation: a snapshot kept as DIR/observations/YYYY-MM-DD.json.gz and recorded
in DIR/history.sqlite as that UTC day's observation (a second one of the day replaces it).

The collection itself is the caller's (`observe` collects like `run`, or reads a stored
snapshot); this module only keeps and records it, so the demo and the command share the path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from audit.evaluate.inventory import inventory_of
from audit.history.observations import observation_of
from audit.history.store import DEFAULT_WAIT_S, HISTORY_FILE, HistoryStore
from audit.model.snapshot import Snapshot
from audit.support.errors import InputError
from audit.support.fsutil import atomic_write_bytes

OBSERVATIONS_DIR = "observations"


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
    """`--date YYYY-MM-DD`: a past or present UTC day; a future one is an input error."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"--date {text!r}: expected YYYY-MM-DD (e.g. 2026-11-03)") from None
    if len(text.strip()) != 10:
        raise InputError(f"--date {text!r}: expected YYYY-MM-DD (e.g. 2026-11-03)")
    if day > today:
        raise InputError(
            f"--date {day.isoformat()}: a future day (today is {today.isoformat()}, UTC)"
        )
    return day


def record_day(
    out_dir: Path,
    snapshot: Snapshot,
    snapshot_bytes: bytes,
    day: date,
    wait_s: float = DEFAULT_WAIT_S,
) -> Observed:
    """Keep the snapshot and record it as `day`'s observation, both or neither: the file is
    written inside the history's write transaction, which commits after it."""
    digest = hashlib.sha256(snapshot_bytes).hexdigest()
    path = out_dir / OBSERVATIONS_DIR / f"{day.isoformat()}.json.gz"
    recorded_at = datetime.now(UTC).isoformat(timespec="seconds")
    record = observation_of(inventory_of(snapshot), digest, day, "observe", recorded_at)
    with HistoryStore.open(out_dir / HISTORY_FILE, wait_s) as history, history.write():
        stored = history.observation_complete(day.isoformat())
        if stored and not snapshot.coverage.complete:
            return Observed(day, path, digest, len(record.vms), replaced=False, kept=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, snapshot_bytes)
        history.record_observation(record)
    return Observed(day, path, digest, len(record.vms), replaced=stored is not None)
