"""The history step of the monthly job, and the history view of an offline rebuild.

The job calls `prepare` inside the store's write transaction, before it renders: the
annotations and the report view come from the stored past, and the run is recorded in the
same transaction, which commits only once the run folder is in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.history.changes import RunState, Sighting, Unread, annotate, finding_records, vm_states
from audit.history.store import HistoryStore, RunRecord
from audit.history.trend import TREND_RUNS, RunSummary, history_view
from audit.model.findings import Finding
from audit.snapshot import Snapshot

JSONObject = dict[str, Any]


@dataclass(frozen=True)
class HistoryEntry:
    """This run's findings document with annotations, its report view and its record."""

    document: JSONObject
    view: JSONObject
    record: RunRecord


def _stored_summary(summary: JSONObject) -> JSONObject:
    """The counts the history keeps per run (the licence usage table stays in the run folder)."""
    return {key: value for key, value in summary.items() if key != "licence_usage"}


def prepare(
    store: HistoryStore,
    snapshot: Snapshot,
    snapshot_sha256: str,
    findings: Sequence[Finding],
    document: JSONObject,
) -> HistoryEntry:
    """Annotate `document` against the stored past and build what to record."""
    meta = document["run"]
    period = str(meta["period"])
    records = finding_records(findings)
    vms = vm_states(snapshot)
    current = RunState(
        sighting=Sighting(period, snapshot.meta.taken_at),
        vms=vms,
        findings=records,
        unread=Unread.from_coverage(snapshot.coverage),
        snapshot_sha256=snapshot_sha256,
    )
    annotated = annotate(store.baseline(period), current).apply(document)
    reviews = store.reviews_for(records)
    summary = _stored_summary(document["summary"])
    view = history_view(
        store.runs_before(period, TREND_RUNS - 1),
        RunSummary(period, snapshot.meta.taken_at, summary),
        reviews,
    )
    record = RunRecord(
        period=period,
        taken_at=snapshot.meta.taken_at,
        endpoint=str(meta["endpoint"]),
        tool_version=str(meta["tool_version"]),
        snapshot_sha256=snapshot_sha256,
        coverage=meta["coverage"],
        summary=summary,
        recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        vms=vms,
        findings=records,
        reviews=reviews,
    )
    return HistoryEntry(annotated, view, record)


def rebuild_view(path: Path, document: JSONObject) -> JSONObject:
    """The history view a stored run was rendered with; empty without a history file.

    Uses the runs before the document's period and the reviews that run was given, so
    `report RUN_DIR` renders what the job rendered.
    """
    if not path.is_file():
        return {}
    meta = document["run"]
    period = str(meta["period"])
    with HistoryStore.open(path) as store:
        reviews = store.run_reviews(period, str(meta["snapshot_sha256"])) or {}
        return history_view(
            store.runs_before(period, TREND_RUNS - 1),
            RunSummary(period, str(meta["taken_at"]), _stored_summary(document["summary"])),
            reviews,
        )


def change_line(document: JSONObject) -> str | None:
    """One line for the job's summary on stdout; None on a first run."""
    previous = document.get("previous_run")
    if not isinstance(previous, dict):
        return None
    changes = [finding.get("change") for finding in document["findings"]]
    unverified = len(document.get("unverified", []))
    return (
        f"since {previous['period']}: {changes.count('new')} new, "
        f"{changes.count('reopened')} reopened, {len(document.get('resolved', []))} resolved"
        + (f", {unverified} unverified (not read)" if unverified else "")
        + f", {len(document.get('changes', []))} licence event(s)"
    )
