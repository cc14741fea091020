"""The run folder, `OUT/<period>/`: its file names, its manifest, reading it back, checking it
against the manifest, and rebuilding its reports offline (`report RUN_DIR`).

What the job writes there and what `report`, `mail`, `frames` and the demo read back go through
here, so the folder's contract is in one place:

    snapshot.json.gz        the collection, byte for byte (audit/model/snapshot.py)
    findings.json           the run's report (audit/model/run.py, RunReport)
    findings.csv, report.xlsx, report.html    derived: `renderers()`
    remediation/plan.json, remediation/remediate.py
    manifest.json           sha256 of every other file, tool version, snapshot digest
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from audit import __version__
from audit.evaluate.inventory import inventory_of
from audit.history.stage import rebuild_view
from audit.history.store import HISTORY_FILE
from audit.model.period import Period
from audit.model.run import RunReport
from audit.model.snapshot import read_snapshot
from audit.remediate.script import PLAN_FILE
from audit.render.base import Renderer, ReportInput
from audit.render.csv_findings import FindingsCsv
from audit.render.html import HtmlReport
from audit.render.xlsx import XlsxReport
from audit.support.errors import InputError
from audit.support.fsutil import atomic_write_text, sha256_file, staged_directory

SNAPSHOT_FILE = "snapshot.json.gz"
FINDINGS_FILE = "findings.json"
MANIFEST_FILE = "manifest.json"
REMEDIATION_DIR = "remediation"


def plan_path(run_dir: Path) -> Path:
    """The run's remediation plan (remediation/plan.json)."""
    return run_dir / REMEDIATION_DIR / PLAN_FILE


def renderers() -> Sequence[Renderer]:
    """Every output format, in the order they are written."""
    return (FindingsCsv(), XlsxReport(), HtmlReport())


def render_all(run: ReportInput, run_dir: Path) -> None:
    for renderer in renderers():
        renderer.render(run, run_dir / renderer.filename)


def _write_json(path: Path, document: Any) -> None:
    atomic_write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def write_manifest(
    run_dir: Path, period: Period, snapshot_sha256: str, unlisted: Collection[str] = ()
) -> None:
    """sha256 of every other file of the run folder (but `unlisted`, files people put there),
    so auditors can check nothing changed."""
    files = {
        name: sha256_file(path)
        for path in sorted(run_dir.rglob("*"))
        if path.is_file()
        and path.name != MANIFEST_FILE
        and (name := path.relative_to(run_dir).as_posix()) not in unlisted
    }
    _write_json(
        run_dir / MANIFEST_FILE,
        {
            "period": period.label,
            "tool_version": __version__,
            "snapshot_sha256": snapshot_sha256,
            "files": files,
        },
    )


def stored_complete_run(run_dir: Path) -> str | None:
    """`taken_at` of the complete run stored in `run_dir`, or None (none, or incomplete)."""
    try:
        meta = json.loads((run_dir / FINDINGS_FILE).read_text(encoding="utf-8"))["run"]
        return str(meta["taken_at"]) if meta["coverage"]["complete"] is True else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_run(run_dir: Path) -> ReportInput:
    """Read a run folder back for an offline rebuild; damage is an input error."""
    snapshot, digest = read_snapshot(run_dir / SNAPSHOT_FILE)
    path = run_dir / FINDINGS_FILE
    report = RunReport.read(path)
    if report.run.snapshot_sha256 != digest:
        raise InputError(f"{path}: run.snapshot_sha256 does not match {SNAPSHOT_FILE}")
    return ReportInput(inventory_of(snapshot), digest, report)


def load_run_with_history(run_dir: Path) -> ReportInput:
    """A run folder read back with the history view it was rendered with (from the history
    file beside it), so `report RUN_DIR` and `mail RUN_DIR` say what the job said."""
    run = load_run(run_dir)
    return replace(run, history=rebuild_view(run_dir.parent / HISTORY_FILE, run.report))


def check_inputs(
    run_dir: Path, derived: set[str], refused: str = "not rebuilt"
) -> tuple[list[str], list[str]]:
    """The stored inputs of a run folder, checked against its manifest, and the files people
    added (an edited workbook saved beside the reports), which are no input.

    `report` rebuilds only what is derived (`derived`: the reports and the manifest), so every
    other file the manifest lists must be byte for byte what the run wrote: an input edited by
    hand or removed is refused, naming the file, and nothing is rebuilt (`refused` says
    what did not happen).
    """
    manifest_path = run_dir / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
        if not isinstance(files, dict):
            raise TypeError
    except OSError as exc:
        raise InputError(f"{manifest_path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{manifest_path}: not a run manifest (no files digest)") from None
    inputs = sorted(name for name in files if name not in derived)
    for name in inputs:
        path = run_dir / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise InputError(f"{manifest_path}: file {name!r} is outside the run folder")
        if not path.is_file():
            raise InputError(f"{path}: listed in {MANIFEST_FILE} but missing; {refused}")
        if sha256_file(path) != files[name]:
            raise InputError(
                f"{path}: differs from its sha256 in {MANIFEST_FILE} (changed since the run); "
                f"{refused}"
            )
    added = [
        name
        for path in sorted(run_dir.rglob("*"))
        if path.is_file()
        and (name := path.relative_to(run_dir).as_posix()) not in files
        and name not in derived
    ]
    return inputs, added


def rebuild_reports(run_dir: Path) -> None:
    """`report RUN_DIR`: render every format again from the stored run, then the manifest.

    The stored inputs (snapshot, findings.json, remediation plan) must match the manifest;
    they are copied into a staging folder that replaces the run folder whole.
    """
    rendered = {renderer.filename for renderer in renderers()} | {MANIFEST_FILE}
    inputs, added = check_inputs(run_dir, rendered)
    run = load_run_with_history(run_dir)
    with staged_directory(run_dir) as stage:
        for name in (*inputs, *added):
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(run_dir / name, stage / name)
        render_all(run, stage)
        write_manifest(stage, run.report.run.period, run.snapshot_sha256, unlisted=added)
