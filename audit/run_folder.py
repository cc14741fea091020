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

import contextlib
import functools
import json
import shutil
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from audit import __version__
from audit.evaluate.inventory import inventory_of
from audit.history.publish import mend_folder, unchanged_since
from audit.model.history_file import read_view
from audit.model.period import Period
from audit.model.run import RunReport
from audit.model.snapshot import read_snapshot
from audit.remediate.script import PLAN_FILE
from audit.render.base import Renderer, ReportInput
from audit.render.csv_findings import FindingsCsv
from audit.render.html import HtmlReport
from audit.render.xlsx import XlsxReport
from audit.support.errors import InputError
from audit.support.forked import beside
from audit.support.fsutil import atomic_write_text, sha256_file, staged_directory

SNAPSHOT_FILE = "snapshot.json.gz"
FINDINGS_FILE = "findings.json"
MANIFEST_FILE = "manifest.json"
REMEDIATION_DIR = "remediation"


def plan_path(run_dir: Path) -> Path:
    """The run's remediation plan (remediation/plan.json)."""
    return run_dir / REMEDIATION_DIR / PLAN_FILE


def renderers() -> Sequence[Renderer]:
    """Every output format (`rendering` writes the workbook in its own process)."""
    return (FindingsCsv(), XlsxReport(), HtmlReport())


@contextlib.contextmanager
def rendering(run: ReportInput, run_dir: Path, parallel: bool = True) -> Iterator[None]:
    """Write every format to `run_dir`: the workbook in a forked process (the second core)
    while the body (the job's other files) and the other formats are written here.

    Each file is written by one process only and no format reads another, so the folder is
    byte for byte what a sequential write (`parallel=False`) makes.
    """
    workbook = XlsxReport()
    others = [renderer for renderer in renderers() if renderer.filename != workbook.filename]
    path = run_dir / workbook.filename
    _ = run.figures  # computed once, here, for both processes
    with beside(lambda: workbook.render(run, path), workbook.filename, parallel):
        yield
        for renderer in others:
            renderer.render(run, run_dir / renderer.filename)


def render_all(run: ReportInput, run_dir: Path, parallel: bool = True) -> None:
    with rendering(run, run_dir, parallel):
        pass


def write_json(path: Path, document: Any) -> None:
    atomic_write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


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


def manifest_bytes(run_dir: Path) -> bytes | None:
    """The manifest as it is now, to tell at the end of a rewrite whether another writer replaced
    the folder meanwhile (None when it cannot be read: `check_inputs` says why)."""
    try:
        return (run_dir / MANIFEST_FILE).read_bytes()
    except OSError:
        return None


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
    seen = manifest_bytes(run_dir)
    inputs, added = check_inputs(run_dir, rendered)
    edited = edited_reports(run_dir, rendered - {MANIFEST_FILE})
    stamps = manifest_stamps(run_dir)
    run = load_run_with_history(run_dir)
    unchanged = functools.partial(unchanged_since, run_dir, MANIFEST_FILE, seen, "report")
    with staged_directory(run_dir, swap_under=unchanged) as stage:
        for name in (*inputs, *added):
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(run_dir / name, stage / name)
        for name, kept in edited.items():
            shutil.copy2(run_dir / name, stage / kept)
        render_all(run, stage)
        unlisted = {*added, *edited.values()}
        write_manifest(stage, run.report.run.period, run.snapshot_sha256, unlisted, stamps)
    return edited
