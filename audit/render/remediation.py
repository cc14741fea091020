"""The remediation applied since the previous run, as both reports list it.

Plain data from findings.json's `remediation_applied` (audit/model/remediation.py): one row per
recorded remediation run (`remediate --apply`, or remediate.py's results via
`import-results`), with the plan, its run's period, when, and what became of its actions.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.model.remediation import RemediationApplied
from audit.render.base import ReportInput
from audit.support.timestamps import parse_utc

NONE_RECORDED = (
    "None recorded in the history since the previous run. `remediate --apply` of a run "
    "folder's plan records its results; the results CSV of remediate.py is recorded with "
    "`ovh-license-audit import-results`."
)


@dataclass(frozen=True)
class RemediationRow:
    item: RemediationApplied
    started: str
    finished: str

    @property
    def not_attempted(self) -> int:
        """Capped (beyond --max-changes) and not attempted (the run stopped)."""
        return self.item.capped + self.item.not_attempted


@dataclass(frozen=True)
class RemediationDisplay:
    """Shown when the run looked the remediation up and has a previous run, or lists some."""

    shown: bool
    previous_period: str | None = None
    line: str = ""
    rows: tuple[RemediationRow, ...] = ()


def remediation_display(run: ReportInput) -> RemediationDisplay:
    report = run.report
    items = report.remediation_applied
    history = report.history
    previous = None if history is None or history.previous_run is None else history.previous_run
    if items is None or (not items and previous is None):
        return RemediationDisplay(shown=False)
    rows = tuple(
        RemediationRow(item, _when(item.started_at), _when(item.finished_at)) for item in items
    )
    if rows:
        line = (
            f"{len(rows)} remediation run(s) recorded: "
            f"{sum(r.item.applied for r in rows):,} change(s) applied, "
            f"{sum(r.item.failed for r in rows):,} failed, "
            f"{sum(r.item.pending for r in rows):,} pending, "
            f"{sum(r.item.skipped for r in rows):,} skipped (the VM had changed), "
            f"{sum(r.not_attempted for r in rows):,} not attempted (beyond --max-changes, or "
            "the run stopped)."
        )
    else:
        line = NONE_RECORDED
    return RemediationDisplay(True, None if previous is None else previous.period, line, rows)


def _when(value: str) -> str:
    stamp = parse_utc(value)
    return value if stamp is None else stamp.strftime("%Y-%m-%d %H:%M:%S UTC")
