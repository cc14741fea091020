"""The period's figures from 31 daily observations of a 100,000-VM fleet, and the history's
size for a year of daily observations of 5,000 VMs."""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from audit.bench.large import measure, memory_rows
from audit.evaluate.inventory import inventory_of
from audit.history.changes import VmState, vm_states
from audit.history.observations import ObservationRecord
from audit.history.store import HISTORY_FILE, HistoryStore
from audit.model.identity import VmKey
from audit.model.snapshot import write_snapshot
from audit.run_folder import SNAPSHOT_FILE
from audit.simulator.direct import snapshot_of
from audit.simulator.generate import generate_fleet

FLEET_VMS = 100_000
YEAR_VMS = 5_000
CHURN = 0.01  # share of VMs whose state changes from one day to the next
LICENCE = "windows 2022 Standard"


def _next_day(vms: dict[VmKey, VmState], rng: random.Random, keys: list[VmKey]) -> None:
    """A day's life: some VMs change power state, get or lose a licence."""
    for key in rng.sample(keys, int(len(keys) * CHURN)):
        vm = vms[key]
        if rng.random() < 0.5:
            power = "poweredOff" if vm.power_state == "poweredOn" else "poweredOn"
            vms[key] = replace(vm, power_state=power)
        else:
            vms[key] = replace(vm, license=None if vm.license else LICENCE)


def record_days(path: Path, vms: Mapping[VmKey, VmState], first: date, days: int) -> float:
    """Record `days` daily observations of a changing fleet; the seconds it took."""
    rng = random.Random(days)
    current = dict(vms)
    keys = sorted(current)
    started = time.perf_counter()
    with HistoryStore.open(path) as store:
        for offset in range(days):
            if offset:
                _next_day(current, rng, keys)
            with store.write():
                store.record_observation(
                    ObservationRecord(
                        day=first + timedelta(days=offset),
                        taken_at=f"{first + timedelta(days=offset)}T02:00:00Z",
                        endpoint="bench",
                        source="observe",
                        snapshot_sha256="0" * 64,
                        coverage={"complete": True},
                        recorded_at="bench",
                        vms=current,
                    )
                )
    return time.perf_counter() - started


def run() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="audit-bench-exposure-") as folder:
        run_dir = Path(folder)
        snapshot = snapshot_of(generate_fleet(FLEET_VMS, seed=1).fleet, "2026-12-31T02:00:00Z")
        write_snapshot(snapshot, run_dir / SNAPSHOT_FILE)
        vms = vm_states(inventory_of(snapshot))
        del snapshot
        seconds = record_days(run_dir / HISTORY_FILE, vms, date(2026, 12, 1), 30)
        rows.append((f"record 30 daily observations of {FLEET_VMS:,} VMs", f"{seconds:.1f}s"))
        # The 31st: the run's own snapshot (31 December) is recorded by the phase itself.
        figures = measure("exposure", run_dir)
        label = "31 observations -> period figures (target < 5 s)"
        rows.append((label, f"{figures['seconds']:.2f}s"))
        rows += memory_rows(figures)
        size = (run_dir / HISTORY_FILE).stat().st_size / 2**20
        rows.append((f"  history.sqlite, 31 days of {FLEET_VMS:,} VMs", f"{size:.1f} MB"))
    with tempfile.TemporaryDirectory(prefix="audit-bench-year-") as folder:
        path = Path(folder) / HISTORY_FILE
        snapshot = snapshot_of(generate_fleet(YEAR_VMS, seed=2).fleet)
        seconds = record_days(path, vm_states(inventory_of(snapshot)), date(2026, 1, 1), 365)
        with HistoryStore.open(path) as store, store.write():
            pass  # a checkpoint folds the write-ahead log into the file
        size = path.stat().st_size / 2**20
        label = f"history.sqlite, a year of daily observations of {YEAR_VMS:,} VMs (< 100 MB)"
        rows.append((label, f"{size:.1f} MB"))
        rows.append(("  recording the 365 days", f"{seconds:.1f}s"))
    return rows
