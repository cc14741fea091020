"""One measured phase per child process, so each peak RSS is that phase's own.

Run as `python -m audit.bench.phases PHASE RUN_DIR`; prints one JSON line: the phase's time,
the process's resident memory before it (inputs loaded) and its peak while the phase ran.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import astuple
from pathlib import Path

from openpyxl import Workbook

from audit.collect.source import SnapshotSource
from audit.evaluate.engine import evaluate
from audit.evaluate.inventory import inventory_of
from audit.evaluate.report import run_report
from audit.exposure.frame import period_exposure
from audit.history.observations import observation_of
from audit.history.store import HISTORY_FILE, HistoryStore
from audit.job import JobSpec, keep_inputs, run_job
from audit.model.period import Period
from audit.model.run import RunReport
from audit.model.snapshot import read_snapshot, read_snapshot_bytes
from audit.render.base import ReportInput
from audit.render.html import HtmlReport
from audit.render.xlsx import XlsxReport
from audit.run_folder import FINDINGS_FILE, SNAPSHOT_FILE


def _load(run_dir: Path) -> ReportInput:
    snapshot, digest = read_snapshot(run_dir / SNAPSHOT_FILE)
    return ReportInput(inventory_of(snapshot), digest, RunReport.read(run_dir / FINDINGS_FILE))


def phase_evaluate(run_dir: Path) -> Callable[[], None]:
    snapshot, digest = read_snapshot(run_dir / SNAPSHOT_FILE)

    def work() -> None:
        inventory = inventory_of(snapshot)
        evaluation = evaluate(inventory, (), inventory.day)
        report = run_report(Period(2026, 11), inventory, digest, evaluation)
        (run_dir / FINDINGS_FILE).write_text(json.dumps(report.to_json()), encoding="utf-8")

    return work


def phase_xlsx(run_dir: Path) -> Callable[[], None]:
    run = _load(run_dir)
    return lambda: XlsxReport().render(run, run_dir / "report.xlsx")


def phase_html(run_dir: Path) -> Callable[[], None]:
    run = _load(run_dir)
    return lambda: HtmlReport().render(run, run_dir / "report.html")


def phase_bare_openpyxl(run_dir: Path) -> Callable[[], None]:
    """The reference: bare write-only openpyxl writing the same rows as our workbook."""
    run = _load(run_dir)
    findings = [finding.to_json() for finding in run.report.findings]
    vms = [astuple(vm)[:-1] for vm in run.inventory.vms()]

    def work() -> None:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("Findings")
        for finding in findings:
            sheet.append([str(value) for value in finding.values()] + ["", "", "", "", ""])
        inventory = workbook.create_sheet("Inventory")
        for vm in vms:
            inventory.append([str(value) for value in vm][:19])
        workbook.save(run_dir / "bare.xlsx")

    return work


def phase_exposure(run_dir: Path) -> Callable[[], None]:
    """The period's figures: the run's snapshot recorded as the 31st day, the period's
    observations loaded from the history and turned into per-VM and per-licence figures."""
    snapshot, data = read_snapshot_bytes(run_dir / SNAPSHOT_FILE)
    inventory = inventory_of(snapshot)
    day = inventory.day
    period = Period.of(day)
    keep_inputs()  # the inputs set aside, as the job does

    def work() -> None:
        with HistoryStore.open(run_dir / HISTORY_FILE) as store, store.write():
            record = observation_of(inventory, "0" * 64, day, "run", "bench")
            store.record_observation(record)
            stored = store.observations(period.start.isoformat(), period.end.isoformat())
            exposure = period_exposure(stored, period, day, record.vms)
        if exposure.days_observed != 31:
            raise RuntimeError(f"{exposure.days_observed} days observed, expected 31")

    del data
    return work


def phase_whole_run(run_dir: Path) -> Callable[[], None]:
    """The monthly job from a stored snapshot: evaluate, history, every report, the plan."""
    spec = JobSpec(
        out_dir=run_dir / "job",
        period=Period(2026, 11),
        source=SnapshotSource(from_file=run_dir / SNAPSHOT_FILE),
    )

    def work() -> None:
        run_job(spec)

    return work


PHASES = {
    "evaluate": phase_evaluate,
    "xlsx": phase_xlsx,
    "html": phase_html,
    "bare-openpyxl": phase_bare_openpyxl,
    "run": phase_whole_run,
    "exposure": phase_exposure,
}


def resident_mb() -> float:
    """The process's resident memory now (Linux), unlike ru_maxrss which only grows."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


class PeakSampler(threading.Thread):
    """Samples resident memory every few milliseconds while a phase runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mb = resident_mb()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.005):
            self.peak_mb = max(self.peak_mb, resident_mb())


def main() -> None:
    name, run_dir = sys.argv[1], Path(sys.argv[2])
    work = PHASES[name](run_dir)
    inputs_mb = resident_mb()
    sampler = PeakSampler()
    sampler.start()
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    peak_mb = max(sampler.peak_mb, resident_mb())
    process_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The whole run's forked workbook process: the largest waited-for child's own peak
    # (the pages it shares with the job's process counted in both).
    children_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "inputs_mb": inputs_mb,
                "peak_mb": peak_mb,
                "process_peak_mb": max(process_peak_mb, peak_mb),
                "children_peak_mb": children_peak_mb,
            }
        )
    )


if __name__ == "__main__":
    main()
