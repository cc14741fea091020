"""Observations that prove themselves: which stored days of a period a run counts.

A day counts when its file DIR/observations/<day>.json.gz is the snapshot the history recorded
(same sha256) and it read some of the run's services; of a counted day only the VMs of the
run's services count (DESIGN.md "One account per output folder, and observations that prove
themselves"). Every stored day of the period is listed with where it came from and why it was
or was not counted (findings.json `exposure.observations`), so the reports can name it.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Set
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np

from audit.exposure.frame import period_exposure
from audit.exposure.observe import day_file
from audit.history.changes import VmState
from audit.history.observations import Observations, ObservedDay
from audit.model.exposure import DayFile, Exposure, ObservedDayProvenance
from audit.model.identity import VmKey
from audit.model.period import Period
from audit.support.fsutil import sha256_file


def file_state(path: Path, recorded: str, written: Mapping[Path, str]) -> DayFile:
    """The day's file against its recorded sha256; `written` holds the files this very run
    writes (not in place until it commits)."""
    if path in written:
        return DayFile.OK if written[path] == recorded else DayFile.DIFFERS
    try:
        digest = sha256_file(path)
    except FileNotFoundError:
        return DayFile.MISSING
    except OSError:
        return DayFile.DIFFERS  # unreadable (a folder in its place, no permission): not it
    return DayFile.OK if digest == recorded else DayFile.DIFFERS


def _only(day: ObservedDay, allowed: np.ndarray) -> tuple[ObservedDay, bool]:
    """The day with only the allowed states, and whether it kept any it had."""
    ids = np.cumsum(np.frombuffer(zlib.decompress(day.encoded), dtype="<u4"), dtype=np.int64)
    kept = ids[np.isin(ids, allowed)]
    if len(kept) == len(ids):
        return day, True  # a day that read no VM at all is no other account's either
    deltas = np.diff(kept, prepend=0).astype("<u4")
    return replace(day, encoded=zlib.compress(deltas.tobytes(), 6)), len(kept) > 0


def counted_days(
    out_dir: Path,
    observations: Observations,
    services: Set[str],
    written: Mapping[Path, str],
) -> tuple[Observations, tuple[ObservedDayProvenance, ...]]:
    """The stored days a run counts, holding only its services' VMs, and every stored day
    with its provenance."""
    states = {key: row for key, row in observations.states.items() if row[0] in services}
    allowed = np.fromiter(states, dtype=np.int64, count=len(states))
    kept: list[ObservedDay] = []
    listed: list[ObservedDayProvenance] = []
    for day in observations.days:
        state = file_state(day_file(out_dir, day.day), day.sha256, written)
        ours, any_ours = _only(day, allowed)
        counted = state is DayFile.OK and any_ours
        if counted:
            kept.append(ours)
        listed.append(
            ObservedDayProvenance(
                day=day.day,
                source=day.source,
                collected_at=day.taken_at,
                endpoint=day.endpoint,
                sha256=day.sha256,
                calls=day.calls,
                complete=day.complete,
                file=state,
                counted=counted,
            )
        )
    return Observations(tuple(kept), states), tuple(listed)


def proven_exposure(
    out_dir: Path,
    observations: Observations,
    period: Period,
    snapshot_day: date,
    snapshot_vms: Mapping[VmKey, VmState],
    services: Set[str],
    written: Mapping[Path, str],
) -> Exposure:
    """`period_exposure` over the days that prove themselves and only the run's `services`
    (those its snapshot lists), with the provenance of every stored day of the period."""
    counted, provenance = counted_days(out_dir, observations, services, written)
    exposure = period_exposure(counted, period, snapshot_day, snapshot_vms)
    first, last = period.start.isoformat(), period.end.isoformat()
    return replace(
        exposure, observations=tuple(day for day in provenance if first <= day.day <= last)
    )
