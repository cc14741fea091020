"""The history view renderers read (RunData.history): trend, previous run, carried reviews.

Built from the same stored values at job time and at `report RUN_DIR` time, so a rebuilt
report is identical to the one that was sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit.model.findings import Severity

JSONObject = dict[str, Any]

TREND_RUNS = 12
SEVERITIES: tuple[str, ...] = tuple(severity.value for severity in Severity)


@dataclass(frozen=True)
class RunSummary:
    """A stored run's counts: enough for the trend and the deltas on the Summary."""

    period: str
    taken_at: str
    summary: Mapping[str, Any]

    def counts(self, key: str) -> dict[str, int]:
        """One of the summary's per-severity maps, every severity present, in order."""
        values = self.summary.get(key) or {}
        return {severity: int(values.get(severity, 0)) for severity in SEVERITIES}

    def trend_point(self) -> JSONObject:
        """Open findings by severity, and their total."""
        open_counts = self.counts("open_by_severity")
        return {"period": self.period, **open_counts, "open": sum(open_counts.values())}

    def to_previous(self) -> JSONObject:
        open_counts = self.counts("open_by_severity")
        all_counts = self.counts("by_severity")
        return {
            "period": self.period,
            "taken_at": self.taken_at,
            "open_by_severity": open_counts,
            "by_severity": all_counts,
            "by_status": dict(self.summary.get("by_status") or {}),
            "open": sum(open_counts.values()),
            "findings": sum(all_counts.values()),
        }


def history_view(
    earlier: Sequence[RunSummary],
    current: RunSummary,
    reviews: Mapping[str, JSONObject],
) -> JSONObject:
    """RunData.history for `current`, given the stored runs before it (oldest first)."""
    runs = [*earlier, current][-TREND_RUNS:]
    previous = earlier[-1] if earlier else None
    return {
        "previous_period": None if previous is None else previous.period,
        "previous": None if previous is None else previous.to_previous(),
        "trend": [run.trend_point() for run in runs],
        "reviews": {fingerprint: dict(reviews[fingerprint]) for fingerprint in sorted(reviews)},
    }
