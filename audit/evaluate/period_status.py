"""Whether a run's period was over when the run was taken, and how many of its days were
observed: computed once here, said by the verdict, the headline, the workbook's Summary, the
HTML header and the mail (DESIGN.md "The position an auditor signs").
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.model.run import RunReport
from audit.support.timestamps import utc_day


@dataclass(frozen=True)
class PeriodStatus:
    """`in_progress`: the snapshot was taken on or before the period's last day, so the
    period had not ended; `observed` of `days` days of the period were observed."""

    in_progress: bool
    observed: int
    days: int

    @property
    def text(self) -> str:
        """`period in progress: 1 of 31 days observed`, or `27 of 30 days observed`."""
        counted = f"{self.observed:,} of {self.days:,} days observed"
        return f"period in progress: {counted}" if self.in_progress else counted

    @property
    def sentence(self) -> str:
        """The text as a sentence of its own: capitalised, full stop."""
        return self.text[0].upper() + self.text[1:] + "."


def period_status(report: RunReport) -> PeriodStatus | None:
    """The period's status, or None for a closed period whose every day was observed (or a
    findings.json older than the period's figures, which cannot say)."""
    meta = report.run
    exposure = report.exposure
    taken = meta.taken
    if exposure is None or taken is None:
        return None
    in_progress = utc_day(taken) <= meta.period.end
    if not in_progress and exposure.days_observed >= exposure.period_days:
        return None
    return PeriodStatus(in_progress, exposure.days_observed, exposure.period_days)
