"""The history view the reports read beside findings.json: trend, previous run, reviews.

Built from the same stored values at job time and at `report RUN_DIR` time, so a rebuilt
report is identical to the one that was sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit.model.findings import SEVERITIES
from audit.model.history import CarriedReview, HistoryView, PreviousCounts, TrendPoint

TREND_RUNS = 12


@dataclass(frozen=True)
class StoredCounts:
    """A stored run's counts: enough for the trend and the deltas on the Summary."""

    period: str
    taken_at: str
    summary: Mapping[str, Any]

    def counts(self, key: str) -> dict[str, int]:
        """One of the summary's per-severity maps, every severity present, in order."""
        values = self.summary.get(key) or {}
        return {severity: int(values.get(severity, 0)) for severity in SEVERITIES}

    def trend_point(self) -> TrendPoint:
        """Open findings by severity, and their total."""
        open_counts = self.counts("open_by_severity")
        return TrendPoint(self.period, open_counts, sum(open_counts.values()))

    def to_previous(self) -> PreviousCounts:
        open_counts = self.counts("open_by_severity")
        all_counts = self.counts("by_severity")
        return PreviousCounts(
            period=self.period,
            taken_at=self.taken_at,
            open_by_severity=open_counts,
            by_severity=all_counts,
            by_status=dict(self.summary.get("by_status") or {}),
            open=sum(open_counts.values()),
            findings=sum(all_counts.values()),
            headline={
                key: value
                for key, value in (self.summary.get("headline") or {}).items()
                if isinstance(value, int)
            },
        )


def history_view(
    earlier: Sequence[StoredCounts],
    current: StoredCounts,
    reviews: Mapping[str, CarriedReview],
) -> HistoryView:
    """The history view of `current`, given the stored runs before it (oldest first)."""
    runs = [*earlier, current][-TREND_RUNS:]
    return HistoryView(
        previous=earlier[-1].to_previous() if earlier else None,
        trend=tuple(run.trend_point() for run in runs),
        reviews={fingerprint: reviews[fingerprint] for fingerprint in sorted(reviews)},
    )
