"""The history step of the monthly job.

The job calls `prepare` inside the store's write transaction, before it renders: the
annotations and the report view come from the stored past, and the run is recorded in the
same transaction, which commits only once the run folder is in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from audit.evaluate.inventory import Inventory
from audit.history.changes import ComparedRun, VmState, annotate, finding_records, vm_states
from audit.history.first_day import first_observed
from audit.history.store import HistoryStore, StoredRun, shortfall_fingerprint
from audit.history.trend import TREND_RUNS, StoredCounts, history_view
from audit.model.history import CarriedReview, Change, HistoryView, Sighting
from audit.model.identity import VmKey
from audit.model.run import RunReport
from audit.model.workbook import SETTLED


@dataclass(frozen=True)
class HistoryEntry:
    """This run's report with the history's annotations, its history view and its record."""

    report: RunReport
    view: HistoryView
    record: StoredRun


def prepare(
    store: HistoryStore,
    inventory: Inventory,
    report: RunReport,
    vms: Mapping[VmKey, VmState] | None = None,
) -> HistoryEntry:
    """Annotate `report` against the stored past and build what to record (`vms`: the
    inventory's `vm_states` when the caller has them already)."""
    meta = report.run
    period = meta.period.label  # the history keys runs by their label
    records = finding_records(report.findings)
    vms = vm_states(inventory) if vms is None else vms
    taken_at = inventory.meta.taken_at
    current = ComparedRun(
        sighting=Sighting(period, taken_at),
        vms=vms,
        findings=records,
        unread=inventory.unread,
        snapshot_sha256=meta.snapshot_sha256,
    )
    annotated = annotate(store.baseline(period), current).apply(report)
    annotated = replace(
        annotated,
        findings=first_observed(annotated.findings, current.sighting, report.exposure),
    )
    applied = store.remediation_since(period, taken_at)
    annotated = replace(
        annotated,
        unsettled_shortfalls=store.unsettled_shortfalls(period),
        remediation_applied=applied,
    )
    reviews = _unsettle(
        store.reviews_for(records),
        {shortfall_fingerprint(item) for item in report.shortfalls},
        store.settled_shortfalls(period),
    )
    summary = report.summary.counts()
    view = history_view(
        store.runs_before(period, TREND_RUNS - 1),
        StoredCounts(period, taken_at, summary),
        reviews,
    )
    record = StoredRun(
        period=period,
        taken_at=taken_at,
        endpoint=meta.endpoint,
        tool_version=meta.tool_version,
        snapshot_sha256=meta.snapshot_sha256,
        coverage=meta.coverage.to_json(),
        summary=summary,
        # To the microsecond, inside the write lock: remediation recorded after this run
        # (audit/remediate/record.py) is told apart from what this run listed.
        recorded_at=datetime.now(UTC).isoformat(timespec="microseconds"),
        vms=vms,
        findings=records,
        reviews=reviews,
        shortfalls=report.shortfalls,
        plan_sha256=None if meta.remediation_plan is None else meta.remediation_plan.sha256,
    )
    return HistoryEntry(annotated, view, record)


def _unsettle(
    reviews: dict[str, CarriedReview], shortfalls: Set[str], settled: Set[str]
) -> dict[str, CarriedReview]:
    """A `settled` review settles one period's shortfall: carried to a shortfall of this
    period that no review of this period settled, its status is left blank (owner and comment
    stay), so no one reads a new unbilled month as settled."""
    return {
        fingerprint: replace(review, status=None)
        if review.status == SETTLED and fingerprint in shortfalls and fingerprint not in settled
        else review
        for fingerprint, review in reviews.items()
    }


def change_line(report: RunReport) -> str | None:
    """One line for the job's summary on stdout; None on a first run."""
    history = report.history
    if history is None or history.previous_run is None:
        return None
    changes = [finding.change for finding in report.findings]
    unverified = len(history.unverified)
    return (
        f"since {history.previous_run.period}: {changes.count(Change.NEW)} new, "
        f"{changes.count(Change.REOPENED)} reopened, {len(history.resolved)} resolved"
        + (f", {unverified} unverified (not read)" if unverified else "")
        + f", {len(history.changes)} licence event(s)"
    )
