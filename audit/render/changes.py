"""What changed since the previous run, as both reports show it: the history stage's additions
tallied for display, the open findings against the previous run, the new and reopened findings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit.model.findings import SEVERITIES, Finding
from audit.model.history import Change, GoneFinding, HistoryResult, LicenceEvent
from audit.render.base import ReportInput
from audit.render.findings import count_sorted

CHANGES: tuple[str, ...] = tuple(c.value for c in (Change.NEW, Change.REOPENED, Change.PERSISTING))
TREND_KEYS: tuple[str, ...] = ("period", *SEVERITIES, "open")


@dataclass(frozen=True)
class ChangesDisplay:
    """The history's additions tallied for display (the records come from the history stage).

    `gone` lists resolved then unverified findings; each one's `outcome` says which.
    """

    previous_period: str | None
    changes: tuple[tuple[str, int], ...]
    events: tuple[LicenceEvent, ...]
    event_counts: tuple[tuple[str, int], ...]
    gone: tuple[GoneFinding, ...]
    trend_keys: tuple[str, ...]
    trend: tuple[tuple[Any, ...], ...]

    @property
    def present(self) -> bool:
        """Only a run with a previous one has changes: on a first run every finding is
        "new", which says nothing, so neither report lists them."""
        return self.previous_period is not None

    @property
    def gone_counts(self) -> list[tuple[str, int]]:
        """Gone findings per outcome (fixed, vm_removed, unverified)."""
        return count_sorted(Counter(gone.outcome for gone in self.gone))


def changes_display(run: ReportInput) -> ChangesDisplay:
    """Counts and rows both reports show of what the history stage added."""
    result = run.report.history or HistoryResult()
    previous = result.previous_run or run.history.previous
    changes = Counter(f.change.value for f in run.report.findings if f.change is not None)
    if previous is None:
        changes.clear()
    trend = run.history.trend
    return ChangesDisplay(
        previous_period=None if previous is None else previous.period,
        changes=tuple(count_sorted(changes, CHANGES)),
        events=result.changes,
        event_counts=tuple(count_sorted(Counter(event.event.value for event in result.changes))),
        gone=result.gone,
        trend_keys=TREND_KEYS if trend else (),
        trend=tuple(point.row() for point in trend),
    )


@dataclass(frozen=True)
class OpenDelta:
    """Open findings now against the previous run: per severity and total."""

    period: str
    previous: Mapping[str, int]
    change: Mapping[str, int]
    previous_total: int
    change_total: int

    def describe(self) -> str:
        """`+3 since 2025-10 (high -1, medium +4)`: the severities that moved, worst first."""
        moved = ", ".join(
            f"{severity} {change:+,}" for severity, change in self.change.items() if change
        )
        return f"{self.change_total:+,} since {self.period}" + (f" ({moved})" if moved else "")


def open_delta(run: ReportInput) -> OpenDelta | None:
    """The history's previous run counts, if any, compared with this run's open findings."""
    previous = run.history.previous
    if previous is None:
        return None
    now = run.report.summary.open_by_severity
    counts = {severity: previous.open_by_severity[severity] for severity in SEVERITIES}
    return OpenDelta(
        period=previous.period,
        previous=counts,
        change={severity: now.get(severity, 0) - count for severity, count in counts.items()},
        previous_total=previous.open,
        change_total=sum(now.values()) - previous.open,
    )


def arrivals(run: ReportInput) -> list[Finding]:
    """Findings new or reopened since the previous run (none on a first run), reopened first."""
    if run.report.history is None or run.report.history.previous_run is None:
        return []
    found = [f for f in run.report.findings if f.change in (Change.NEW, Change.REOPENED)]
    return sorted(found, key=lambda f: (f.change is not Change.REOPENED, f.severity.rank))
