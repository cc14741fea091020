"""The monthly job: collect (or load a snapshot), evaluate, render, into DIR/<period>/.

The run folder is built in a staging folder and renamed into place as a whole, so a failed
or interrupted run never leaves half-written outputs and a re-run replaces the period.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from audit import __version__
from audit.collect.api import ClientFactory, check_endpoint
from audit.collect.collector import CollectOptions, collect
from audit.collect.options import collect_options_from, factory_from
from audit.config.settings import Config, RemediationConfig
from audit.evaluate import headline
from audit.evaluate.engine import Evaluation, evaluate
from audit.evaluate.figures import Verdict
from audit.evaluate.inventory import Inventory, inventory_of
from audit.evaluate.placement import with_placement
from audit.evaluate.position import control_panel, licences
from audit.evaluate.prices import (
    billed_cost,
    declarations_cost,
    shortfall_cost,
    unlicensed_exposure,
    wasted_cost,
)
from audit.evaluate.rules import win_unlicensed
from audit.exposure.frame import powered_on_vms
from audit.exposure.observe import checked_day, day_file
from audit.exposure.proof import proven_exposure
from audit.history.changes import vm_states
from audit.history.observations import observation_of
from audit.history.publish import mend_folder, publishing
from audit.history.stage import prepare as prepare_history
from audit.history.store import DEFAULT_WAIT_S, HISTORY_FILE, HistoryStore
from audit.model import period as periods
from audit.model.exceptions import ExceptionRow
from audit.model.exposure import Exposure
from audit.model.findings import Finding
from audit.model.history_file import HISTORY_VIEW_FILE, dumps_view, read_view
from audit.model.identity import VmKey
from audit.model.period import Period
from audit.model.prices import Cost, Prices
from audit.model.run import PlanSummary, RegisterFile, RunInfo, RunReport
from audit.model.snapshot import Snapshot, encode_snapshot, read_snapshot, read_snapshot_bytes
from audit.remediate.plan import Plan, build_plan, seen_licences
from audit.remediate.script import write_remediation
from audit.render.base import Renderer, RunData
from audit.render.csv_findings import FindingsCsv
from audit.render.html import HtmlReport
from audit.render.xlsx import XlsxReport
from audit.runtime.plan import ActionKind
from audit.support.errors import AuditError, ExitCode, InputError
from audit.support.fsutil import atomic_write_text, sha256_file, staged_directory

SNAPSHOT_FILE = "snapshot.json.gz"
FINDINGS_FILE = "findings.json"
MANIFEST_FILE = "manifest.json"
REMEDIATION_DIR = "remediation"


class IncompleteRunError(AuditError):
    """A collection too incomplete to write: nothing was read, or it would replace a complete
    run of the same period. Exit 3, like any incomplete collection, with nothing written."""

    exit_code = ExitCode.INCOMPLETE


def renderers() -> Sequence[Renderer]:
    """Every output format, in the order they are written."""
    return (FindingsCsv(), XlsxReport(), HtmlReport())


def parse_period(text: str | None) -> Period:
    """`--period` (YYYY-MM, current or previous; default current), today in UTC."""
    return periods.parse_period(text, datetime.now(UTC).date())


@dataclass(frozen=True)
class SnapshotSource:
    """Where the snapshot comes from: the API through `factory`, or a stored file."""

    factory: ClientFactory | None = None
    options: CollectOptions | None = None
    endpoint_label: str = ""
    from_file: Path | None = None

    def load(self) -> tuple[Snapshot, bytes]:
        if self.from_file is not None:
            return read_snapshot_bytes(self.from_file)
        assert self.factory is not None and self.options is not None
        check_endpoint(self.factory)
        snapshot = collect(self.factory, self.options, self.endpoint_label)
        return snapshot, encode_snapshot(snapshot)

    @classmethod
    def from_args(cls, args: argparse.Namespace, config: Config) -> SnapshotSource:
        """`--from-snapshot FILE`, else the API that the flags and the config file name."""
        if args.from_snapshot is not None:
            return cls(from_file=args.from_snapshot)
        factory = factory_from(args, config)
        return cls(
            factory=factory,
            options=collect_options_from(args, config),
            endpoint_label=factory.endpoint,
        )


def refuse_nothing_read(snapshot: Snapshot, label: str) -> None:
    """An incomplete collection that did not even list the services has nothing to say."""
    coverage = snapshot.coverage
    if coverage.complete or coverage.services_listed > 0:
        return
    first = coverage.failures[0]
    raise IncompleteRunError(
        f"{label}: nothing was read from {snapshot.meta.endpoint or 'the API'} "
        f"(GET {first.path}: {first.error}); nothing written"
    )


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


def stored_complete_run(run_dir: Path) -> str | None:
    """`taken_at` of the complete run stored in `run_dir`, or None (none, or incomplete)."""
    try:
        meta = json.loads((run_dir / FINDINGS_FILE).read_text(encoding="utf-8"))["run"]
        return str(meta["taken_at"]) if meta["coverage"]["complete"] is True else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class JobSpec:
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


@dataclass(frozen=True)
class RunContext:
    """What the reports state about how the run was made, beside what it found."""

    fail_on: str | None = None
    register: RegisterFile | None = None
    plan: Plan | None = None
    prices: Prices | None = None
    organisation: str | None = None


def plan_summary(plan: Plan) -> PlanSummary:
    counts = plan.counts()
    return PlanSummary(
        set_license=counts[ActionKind.SET_LICENSE.value],
        remove_license=counts[ActionKind.REMOVE_LICENSE.value],
        manual=counts[ActionKind.MANUAL.value],
        sha256=plan.sha256,
    )


def _costs(
    findings: Sequence[Finding],
    rows: Any,
    prices: Prices | None,
    plan: Plan | None,
    inventory: Inventory,
    exposure: Exposure | None,
) -> tuple[Cost, ...]:
    """The money figures: what the period is billed and its shortfall first, then the
    declarations, the unlicensed guests (priced at the licence the plan would set) and the
    licences possibly wasted; per core, each VM's vCPUs from the inventory."""
    if prices is None:
        return ()
    targets = {
        (action.service_name, action.datacenter_id, action.vm_id, action.rule_id): (
            action.target_license
        )
        for action in (plan.actions if plan is not None else ())
        if action.action is ActionKind.SET_LICENSE
    }

    def target_of(finding: Finding) -> str | None:
        key = (finding.service_name, finding.datacenter_id, finding.vm_id, finding.rule_id)
        return targets.get(key)

    def shortfall_target(vm: VmKey) -> str | None:
        return targets.get((*vm, win_unlicensed.META.id))

    vcpus = {key: vm.vcpu_count for vm in inventory.vms() if (key := vm.key) is not None}
    period = () if exposure is None else exposure.vms
    shortfalls = () if exposure is None else exposure.shortfalls()
    return (
        billed_cost(period, prices),
        shortfall_cost(shortfalls, prices, vcpus, shortfall_target),
        declarations_cost(rows, prices),
        unlicensed_exposure(findings, prices, target_of, vcpus),
        wasted_cost(findings, prices, vcpus),
    )


def run_report(
    period: Period,
    inventory: Inventory,
    snapshot_sha256: str,
    evaluation: Evaluation,
    context: RunContext | None = None,
    exposure: Exposure | None = None,
) -> RunReport:
    """The run's report before the history stage (findings.json, DESIGN.md "Output folder"):
    the findings with their VM's folder and cluster, the headline figures, the licence
    position and, with [prices], the monthly amounts."""
    context = context or RunContext()
    findings = with_placement(evaluation.findings, inventory)
    rows = licences(evaluation.summary.licence_usage, inventory, exposure)
    figures = headline.headline(inventory, findings)
    return RunReport(
        run=RunInfo(
            period=period,
            taken_at=inventory.meta.taken_at,
            endpoint=inventory.meta.endpoint,
            tool_version=__version__,
            snapshot_sha256=snapshot_sha256,
            coverage=inventory.coverage,
            fail_on=context.fail_on,
            exceptions_register=context.register,
            remediation_plan=None if context.plan is None else plan_summary(context.plan),
            organisation=context.organisation,
        ),
        summary=replace(evaluation.summary, headline=headline.counts(figures)),
        exceptions=evaluation.exception_states,
        findings=findings,
        licences=rows,
        control_panel=control_panel(inventory),
        costs=_costs(findings, rows, context.prices, context.plan, inventory, exposure),
        exposure=exposure,
        shortfalls=() if exposure is None else exposure.shortfalls(),
    )


def register_file(path: Path) -> RegisterFile:
    """The exceptions register as the run records it: file name (no folder) and sha256."""
    return RegisterFile(path.name, sha256_file(path))


def write_json(path: Path, document: Any) -> None:
    atomic_write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def render_all(run: RunData, run_dir: Path) -> None:
    for renderer in renderers():
        renderer.render(run, run_dir / renderer.filename)


#: The manifest's own keys; any other (the reconciliation's stamp) is kept by a rebuild.
_MANIFEST_KEYS = ("period", "tool_version", "snapshot_sha256", "files")


def write_manifest(
    run_dir: Path,
    period: Period,
    snapshot_sha256: str,
    unlisted: Collection[str] = (),
    stamps: Mapping[str, Any] | None = None,
) -> None:
    """sha256 of every other file of the run folder (but `unlisted`, files people put there),
    so auditors can check nothing changed; `stamps` are what later commands recorded (the
    `invoice` command's `reconciliation`), written before the files."""
    files = {
        name: sha256_file(path)
        for path in sorted(run_dir.rglob("*"))
        if path.is_file()
        and path.name != MANIFEST_FILE
        and (name := path.relative_to(run_dir).as_posix()) not in unlisted
    }
    write_json(
        run_dir / MANIFEST_FILE,
        {
            "period": period.label,
            "tool_version": __version__,
            "snapshot_sha256": snapshot_sha256,
            **{key: value for key, value in (stamps or {}).items() if key not in _MANIFEST_KEYS},
            "files": files,
        },
    )


def manifest_stamps(run_dir: Path) -> dict[str, Any]:
    """What later commands recorded in a run folder's manifest (see `write_manifest`); call
    after `check_inputs`, which refuses a manifest it cannot read."""
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    return {key: value for key, value in manifest.items() if key not in _MANIFEST_KEYS}


def run_job(spec: JobSpec) -> JobResult:
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
        if history.record_observation(record):
            publish.file(day_file(spec.out_dir, day), snapshot_bytes, snapshot_sha256)
        observed = history.observations(period.start.isoformat(), period.end.isoformat())
        vms = vm_states(inventory)
        exposure = proven_exposure(
            spec.out_dir, observed, period, day, vms, record.services, publish.written
        )
        evaluation = evaluate(inventory, spec.exceptions, day, exposure)
        stage = publish.folder(run_dir)
        (stage / SNAPSHOT_FILE).write_bytes(snapshot_bytes)
        plan = build_plan(
            evaluation.findings,
            snapshot_sha256,
            spec.remediation,
            spec.allow_bypass,
            powered_on=powered_on_vms(vms),
            seen=seen_licences(vms, inventory, exposure),
        )
        plan_sha256 = write_remediation(stage / REMEDIATION_DIR, plan)
        context = RunContext(spec.fail_on, spec.register, plan, spec.prices, spec.organisation)
        report = run_report(period, inventory, snapshot_sha256, evaluation, context, exposure)
        entry = prepare_history(history, inventory, report)
        report = entry.report
        atomic_write_text(stage / FINDINGS_FILE, report.dumps())
        # Everything the reports take from the history, frozen into the folder.
        atomic_write_text(stage / HISTORY_VIEW_FILE, dumps_view(entry.view))
        run = RunData(inventory, snapshot_sha256, report, entry.view)
        render_all(run, stage)
        write_manifest(stage, period, snapshot_sha256)
        history.record_run(entry.record)
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


def load_run(run_dir: Path) -> RunData:
    """Read a run folder back for an offline rebuild; damage is an input error."""
    snapshot, digest = read_snapshot(run_dir / SNAPSHOT_FILE)
    path = run_dir / FINDINGS_FILE
    report = RunReport.read(path)
    if report.run.snapshot_sha256 != digest:
        raise InputError(f"{path}: run.snapshot_sha256 does not match {SNAPSHOT_FILE}")
    return RunData(inventory_of(snapshot), digest, report)


def load_run_with_history(run_dir: Path) -> RunData:
    """A run folder read back with the history view it was rendered with (its history.json,
    written at run time), so `report RUN_DIR` and `mail RUN_DIR` say what the job said from
    the folder alone, whatever became of the history file since. What a killed run committed
    but did not move into place is mended first."""
    mend_folder(run_dir.parent)
    return replace(load_run(run_dir), history=read_view(run_dir))


def check_inputs(
    run_dir: Path, derived: set[str], refused: str = "not rebuilt"
) -> tuple[list[str], list[str]]:
    """The stored inputs of a run folder, checked against its manifest, and the files people
    added (an edited workbook saved beside the reports), which are no input.

    `report` rebuilds only what is derived (`derived`: the reports and the manifest), so every
    other file the manifest lists must be byte for byte what the run wrote: an input edited by
    hand or removed is refused, naming the file and the fix, and nothing is rebuilt (`refused`
    says what did not happen).
    """
    manifest_path = run_dir / MANIFEST_FILE
    manifest = read_manifest(run_dir)
    files: dict[str, str] = manifest["files"]
    inputs = sorted(name for name in files if name not in derived)
    for name in inputs:
        path = run_dir / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise InputError(f"{manifest_path}: file {name!r} is outside the run folder")
        if not path.is_file():
            raise InputError(
                f"{path}: listed in {MANIFEST_FILE} but missing; {refused}"
                + edit_fix(run_dir, name, manifest, edited=False)
            )
        if sha256_file(path) != files[name]:
            raise InputError(
                f"{path}: differs from its sha256 in {MANIFEST_FILE} (changed since the run); "
                f"{refused}" + edit_fix(run_dir, name, manifest, edited=True)
            )
    added = [
        name
        for path in sorted(run_dir.rglob("*"))
        if path.is_file()
        and (name := path.relative_to(run_dir).as_posix()) not in files
        and name not in derived
    ]
    return inputs, added


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """manifest.json, with its `files` digests; anything else is an input error."""
    manifest_path = run_dir / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if not isinstance(manifest["files"], dict):
            raise TypeError
    except OSError as exc:
        raise InputError(f"{manifest_path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{manifest_path}: not a run manifest (no files digest)") from None
    return dict(manifest)


def edit_fix(run_dir: Path, name: str, manifest: dict[str, Any], edited: bool) -> str:
    """What to do about a file of a run folder that is not what the run wrote (a run folder:
    its manifest lists a snapshot; a roll-up's refusal says no more than which file)."""
    if SNAPSHOT_FILE not in manifest["files"]:
        return ""
    rebuild = f"`ovh-license-audit report {run_dir}`"
    if name in {renderer.filename for renderer in renderers()}:
        if not edited:
            return f"; {rebuild} writes it again"
        review = (
            f"import its reviews with `ovh-license-audit import-review {run_dir / name}`, then "
            if name == XlsxReport.filename
            else ""
        )
        return (
            f"; it was edited inside the run folder: {review}{rebuild} restores the run's "
            f"{name} and keeps the edited one beside it under a new name (edit, and mail, a "
            "copy of the reports, never the run folder's)"
        )
    period = manifest.get("period") or run_dir.name
    return (
        f"; restore it from a copy of the run folder, or run the period again "
        f"(`ovh-license-audit run --period {period} ...`, which replaces the run folder)"
    )


def kept_name(name: str, digest: str) -> str:
    """The name an edited report is kept under: `report.edited-<8 hex>.xlsx`."""
    path = Path(name)
    return path.with_name(f"{path.stem}.edited-{digest[:8]}{path.suffix}").as_posix()


def edited_reports(run_dir: Path, rendered: set[str]) -> dict[str, str]:
    """The rendered files present but not what the manifest lists (edited inside the run
    folder, or damaged), each with the name it is kept under."""
    files = read_manifest(run_dir)["files"]
    edited = {}
    for name in sorted(rendered & set(files)):
        path = run_dir / name
        if path.is_file() and (digest := sha256_file(path)) != files[name]:
            edited[name] = kept_name(name, digest)
    return edited


def rebuild_reports(run_dir: Path) -> dict[str, str]:
    """`report RUN_DIR`: render every format again from the stored run, then the manifest.

    The stored inputs (snapshot, findings.json, remediation plan) must match the manifest;
    they are copied into a staging folder that replaces the run folder whole. A report that
    differs from the manifest is never lost: it is kept beside the rebuilt one, unlisted, under
    the name returned (by its name).
    """
    rendered = {renderer.filename for renderer in renderers()} | {MANIFEST_FILE}
    mend_folder(run_dir.parent)  # a killed run's committed folder first, as every writer does
    inputs, added = check_inputs(run_dir, rendered)
    edited = edited_reports(run_dir, rendered - {MANIFEST_FILE})
    stamps = manifest_stamps(run_dir)
    run = load_run_with_history(run_dir)
    with staged_directory(run_dir) as stage:
        for name in (*inputs, *added):
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(run_dir / name, stage / name)
        for name, kept in edited.items():
            shutil.copy2(run_dir / name, stage / kept)
        render_all(run, stage)
        unlisted = {*added, *edited.values()}
        write_manifest(stage, run.report.run.period, run.snapshot_sha256, unlisted, stamps)
    return edited
