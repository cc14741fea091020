"""Reading the account folders of an output folder into the roll-up's records.

`DIR/<name>/<period>/` is each account's run folder, exactly as a single-account run writes
it. It is rolled up only when it is that period's run, every file matches its manifest, and
(when `run --accounts` recorded the account's process) it is the folder that process wrote:
an account whose process failed is a failed row even if an earlier run of the period is
still in place, and an older period never stands in for the one asked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from audit import __version__
from audit.collect.options import coverage_line
from audit.config.accounts import ROLLUP_FOLDER, SLUG
from audit.evaluate import headline
from audit.history.store import HISTORY_FILE
from audit.model.findings import Status
from audit.model.rollup import AccountEntry, AccountFinding, AccountStatus, Outcome, Rollup
from audit.model.run import RunReport
from audit.render.base import ReportInput
from audit.render.summary import verdict
from audit.run_folder import MANIFEST_FILE, check_inputs, load_run
from audit.support.errors import ExitCode, InputError
from audit.support.fsutil import sha256_file

_PERIOD = re.compile(r"\d{4}-\d{2}", re.ASCII)


def manifest_digest(run_dir: Path) -> str | None:
    """sha256 of the run folder's manifest.json; None when there is none."""
    path = run_dir / MANIFEST_FILE
    return sha256_file(path) if path.is_file() else None


def account_folders(out_dir: Path) -> list[str]:
    """The account folders under `out_dir`: named like an account, holding a history."""
    if not out_dir.is_dir():
        return []
    return sorted(
        path.name
        for path in out_dir.iterdir()
        if path.is_dir()
        and path.name != ROLLUP_FOLDER
        and SLUG.fullmatch(path.name)
        and (path / HISTORY_FILE).is_file()
    )


def _relative(message: str, out_dir: Path) -> str:
    """A message about a file under `out_dir` names it from there (`alpha/2026-11/...`), so
    the roll-up says the same however the folder was spelled on the command line."""
    return message.replace(f"{out_dir}/", "")


def _failed(name: str, period: str, code: int, reason: str) -> AccountEntry:
    return AccountEntry(name, period, AccountStatus.FAILED, code, reason)


def _missing_reason(out_dir: Path, name: str, period: str) -> str:
    folder = out_dir / name
    if not folder.is_dir():
        return f"no folder {name}/: this account has never written a run here"
    periods = sorted(p.name for p in folder.iterdir() if p.is_dir() and _PERIOD.fullmatch(p.name))
    earlier = [p for p in periods if p < period]
    latest = f"; its latest run is {earlier[-1]}, not rolled up" if earlier else ""
    return f"no run of {period} in {name}/{latest}"


def _earlier_run(run_dir: Path, out_dir: Path) -> str:
    """What a failed account's run folder of the period still holds, which is not rolled up."""
    try:
        taken = RunReport.read(run_dir / "findings.json").run.taken_at
    except InputError:
        taken = "at an unknown time"
    return (
        f"; {_relative(str(run_dir), out_dir)}/ holds an earlier run (taken {taken}), not rolled up"
    )


def read_account(
    out_dir: Path, name: str, period: str, outcome: Outcome | None = None
) -> tuple[AccountEntry, tuple[AccountFinding, ...]]:
    """One account's roll-up entry and findings (none when it failed)."""
    run_dir = out_dir / name / period
    digest = manifest_digest(run_dir)
    current = outcome is not None and outcome.manifest_sha256 == digest
    if outcome is not None and current and not outcome.wrote:
        reason = outcome.reason or f"exited with code {outcome.exit_code}"
        if digest is not None:
            reason += _earlier_run(run_dir, out_dir)
        return _failed(name, period, outcome.exit_code, reason), ()
    if digest is None:
        return _failed(name, period, ExitCode.INPUT, _missing_reason(out_dir, name, period)), ()
    try:
        check_inputs(run_dir, set(), refused="not rolled up")
        run = load_run(run_dir)
    except InputError as exc:
        return _failed(name, period, ExitCode.INPUT, _relative(str(exc), out_dir)), ()
    if run.report.run.period.label != period:
        reason = f"{name}/{period}/findings.json is the run of {run.report.run.period}"
        return _failed(name, period, ExitCode.INPUT, reason), ()
    code = outcome.exit_code if outcome is not None and current else _exit_code(run)
    entry = _entry(name, period, run, digest, code)
    return entry, tuple(AccountFinding(name, finding) for finding in run.report.findings)


def _exit_code(run: ReportInput) -> int:
    """The code the run's own process returned, from what its folder records."""
    return int(run.figures.verdict.exit_code)


def _entry(name: str, period: str, run: ReportInput, digest: str, code: int) -> AccountEntry:
    report = run.report
    coverage = report.run.coverage
    judged = verdict(run)
    reason = None
    if not coverage.complete:
        reason = f"collection incomplete: {len(coverage.failures):,} object(s) could not be read"
    return AccountEntry(
        name=name,
        period=period,
        status=AccountStatus.COMPLETE if coverage.complete else AccountStatus.INCOMPLETE,
        exit_code=code,
        reason=reason,
        manifest_sha256=digest,
        folder=f"{name}/{period}",
        taken_at=report.run.taken_at,
        endpoint=report.run.endpoint,
        verdict=judged.text,
        verdict_tone=judged.tone,
        coverage=coverage_line(coverage).removeprefix("coverage: "),
        headline=report.summary.headline or headline.counts(run.figures.headline),
        licences=run.figures.position.overall,
        findings=len(report.findings),
        open_findings=sum(1 for f in report.findings if f.status is Status.OPEN),
    )


def build_rollup(
    out_dir: Path, period: str, names: Sequence[str], outcomes: Mapping[str, Outcome]
) -> Rollup:
    """Every named account (in name order) read from its folder."""
    entries: list[AccountEntry] = []
    findings: list[AccountFinding] = []
    for name in sorted(names):
        entry, found = read_account(out_dir, name, period, outcomes.get(name))
        entries.append(entry)
        findings.extend(found)
    return Rollup(period, __version__, tuple(entries), tuple(findings))
