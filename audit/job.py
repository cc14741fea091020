"""The monthly job: load the snapshot (collect, or a stored file), evaluate it over the
period's observations, plan, record the history and write DIR/<period>/.

Orchestration only: each step is a stage's function. The run folder (its contract:
audit/run_folder.py) is built in a staging folder and moved into place with the history's
commit (audit/history/publish.py), so a failed or interrupted run never leaves half-written
outputs and a re-run replaces the period.
"""

from __future__ import annotations

import gc
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from audit.collect.source import SnapshotSource, refuse_nothing_read
from audit.config.settings import RemediationConfig
from audit.evaluate.engine import Evaluation, evaluate
from audit.evaluate.figures import Verdict
from audit.evaluate.inventory import inventory_of
from audit.evaluate.report import ReportContext, run_report
from audit.exposure.frame import powered_on_vms
from audit.exposure.observe import checked_day, day_file
from audit.exposure.proof import proven_exposure
from audit.history.observations import observation_of
from audit.history.publish import publishing
from audit.history.stage import prepare as prepare_history
from audit.history.store import DEFAULT_WAIT_S, HISTORY_FILE, HistoryStore
from audit.model.exceptions import ExceptionRow
from audit.model.history_file import HISTORY_VIEW_FILE, dumps_view
from audit.model.period import Period
from audit.model.prices import Prices
from audit.model.run import RegisterFile, RunReport
from audit.model.snapshot import Snapshot
from audit.remediate.plan import Plan, build_plan, seen_licences
from audit.remediate.script import write_remediation
from audit.render.base import ReportInput
from audit.run_folder import (
    FINDINGS_FILE,
    REMEDIATION_DIR,
    SNAPSHOT_FILE,
    rendering,
    stored_complete_run,
    write_manifest,
)
from audit.support.errors import ExitCode, IncompleteRunError
from audit.support.fsutil import atomic_write_text


@dataclass(frozen=True)
class JobSpec:
    """One monthly run: where to write, which period, where the snapshot comes from, and
    what the run applies (exceptions, threshold, remediation editions, prices)."""

    out_dir: Path
    period: Period
    source: SnapshotSource
    exceptions: tuple[ExceptionRow, ...] = ()
    fail_on: str = "high"
    remediation: RemediationConfig = field(default_factory=RemediationConfig)
    allow_bypass: bool = False  # setLicense actions carry bypassGuestOsFamilyCheck (flagged)
    history_wait_s: float = DEFAULT_WAIT_S
    replace_incomplete: bool = False  # an incomplete run may replace a complete one
    register: RegisterFile | None = None  # the exceptions register's file name and sha256
    prices: Prices | None = None  # [prices]: the reports then show monthly amounts
    today: date | None = None  # UTC; a snapshot of a later day is refused (None: the clock's)
    organisation: str | None = None  # [report] organisation, recorded in findings.json


@dataclass(frozen=True)
class JobResult:
    run_dir: Path
    snapshot: Snapshot
    snapshot_sha256: str
    evaluation: Evaluation
    report: RunReport
    exit_code: ExitCode
    plan: Plan
    plan_sha256: str
    verdict: Verdict


def refuse_replacing_complete(snapshot: Snapshot, period: Period, run_dir: Path) -> None:
    """An incomplete collection never silently replaces a complete run of its period."""
    coverage = snapshot.coverage
    if coverage.complete:
        return
    stored = stored_complete_run(run_dir)
    if stored is not None:
        raise IncompleteRunError(
            f"{period}: this collection is incomplete ({len(coverage.failures)} object(s) not "
            f"read) and {run_dir} holds a complete run taken {stored}; kept it, nothing written "
            "(--replace-incomplete replaces it)"
        )


def run_job(spec: JobSpec) -> JobResult:
    try:
        return _run_job(spec)
    finally:
        gc.unfreeze()  # what `keep_inputs` set aside is collectable again


def keep_inputs() -> None:
    """Set the objects alive now (the run's inputs, kept to its end) aside from the cyclic
    garbage collector: each collection of the oldest generation would walk the millions of
    objects of a 100,000-VM inventory again (seconds per run)."""
    gc.freeze()


def _run_job(spec: JobSpec) -> JobResult:
    snapshot, snapshot_bytes = spec.source.load()
    period = spec.period
    run_dir = spec.out_dir / period.label
    refuse_nothing_read(snapshot, period.label)
    snapshot_sha256 = hashlib.sha256(snapshot_bytes).hexdigest()
    inventory = inventory_of(snapshot)
    # Exceptions expire relative to the snapshot's UTC day, so a rebuild is identical; a
    # snapshot of a day after today (UTC) or before 2000 is refused.
    day = checked_day(snapshot, spec.today or datetime.now(UTC).date(), spec.source.from_file)
    # The history's write lock is held from reading the past to recording this run; the run
    # folder and the day's observation file move into place with its COMMIT, as one
    # recoverable step (audit/history/publish.py).
    with (
        HistoryStore.open(spec.out_dir / HISTORY_FILE, spec.history_wait_s) as history,
        publishing(history) as publish,
    ):
        if not spec.replace_incomplete:
            refuse_replacing_complete(snapshot, period, run_dir)
        # The run's snapshot is the observation of its own day (its file too); the period's
        # observations (that one included when its day is inside the period) give the rules
        # their days, each counted only when its file is the one recorded.
        recorded_at = datetime.now(UTC).isoformat(timespec="seconds")
        record = observation_of(inventory, snapshot_sha256, day, "run", recorded_at)
        keep_inputs()
        if history.record_observation(record):
            publish.file(day_file(spec.out_dir, day), snapshot_bytes, snapshot_sha256)
        observed = history.observations(period.start.isoformat(), period.end.isoformat())
        vms = record.vms  # the inventory's states, made once for the observation, the
        # period's figures, the plan and the history's record
        exposure = proven_exposure(
            spec.out_dir, observed, period, day, vms, record.services, publish.written
        )
        evaluation = evaluate(inventory, spec.exceptions, day, exposure)
        stage = publish.folder(run_dir)
        plan = build_plan(
            evaluation.findings,
            snapshot_sha256,
            spec.remediation,
            spec.allow_bypass,
            powered_on=powered_on_vms(vms),
            seen=seen_licences(vms, inventory, exposure),
        )
        context = ReportContext(spec.fail_on, spec.register, plan, spec.prices, spec.organisation)
        report = run_report(period, inventory, snapshot_sha256, evaluation, context, exposure)
        entry = prepare_history(history, inventory, report, vms)
        report = entry.report
        run = ReportInput(inventory, snapshot_sha256, report, entry.view)
        # The workbook's process starts here; everything else is written beside it.
        with rendering(run, stage):
            (stage / SNAPSHOT_FILE).write_bytes(snapshot_bytes)
            plan_sha256 = write_remediation(stage / REMEDIATION_DIR, plan)
            atomic_write_text(stage / FINDINGS_FILE, report.dumps())
            # Everything the reports take from the history, frozen into the folder.
            atomic_write_text(stage / HISTORY_VIEW_FILE, dumps_view(entry.view))
            history.record_run(entry.record)
        write_manifest(stage, period, snapshot_sha256)
    return JobResult(
        run_dir=run_dir,
        snapshot=snapshot,
        snapshot_sha256=snapshot_sha256,
        evaluation=evaluation,
        report=report,
        exit_code=run.figures.verdict.exit_code,
        plan=plan,
        plan_sha256=plan_sha256,
        verdict=run.figures.verdict,
    )
