"""What a mail says before any attachment: the executive summary the reports open with.

Built from the run folder by `digest_from_run_dir`, through the same typed run model and the
same executive summary as `report RUN_DIR` (audit/render/summary.py), so the mail, the workbook
and the HTML say the same thing, and `mail RUN_DIR` says months later what `run --mail` said.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from audit.evaluate.signed import PositionLine, WindowsRan
from audit.model.exposure import BILLING_RULE
from audit.render.base import ReportInput
from audit.render.changes import changes_display
from audit.render.summary import (
    HeadlineFigure,
    SummaryLine,
    executive_summary,
    headline_figures,
    verdict,
)
from audit.run_folder import load_run_with_history


@dataclass(frozen=True)
class Digest:
    """The executive summary of one run folder, as the mail shows it."""

    period: str
    taken_at: str
    run_dir: Path
    complete: bool
    verdict: SummaryLine
    summary: tuple[SummaryLine, ...]  # the executive summary after its verdict line
    figures: tuple[HeadlineFigure, ...]
    unlicensed: int  # the headline figure: open WIN-UNLICENSED findings
    new_unlicensed: int | None  # of those, new or reopened since the previous run; None first
    period_status: str | None = None  # `period in progress: 1 of 31 days observed`, or None
    organisation: str | None = None  # [report] organisation as the run recorded it
    signed: tuple[PositionLine, ...] = ()  # the position an auditor signs, with its totals
    ran: tuple[WindowsRan, ...] = ()  # Windows Server guests that ran, per service, then total
    billing_rule: str = BILLING_RULE

    @property
    def subject(self) -> str:
        """`Windows licence audit 2026-11, Example SA: 20 Windows servers ran unbilled, 3 new`
        (the organisation when [report] names one), the period's status after the period when
        it was not over or not every day was observed."""
        servers = "server" if self.unlicensed == 1 else "servers"
        state = "" if self.complete else " (INCOMPLETE)"
        if self.period_status is not None:
            state += f" ({self.period_status})"
        news = "" if self.new_unlicensed is None else f", {self.new_unlicensed:,} new"
        whose = "" if self.organisation is None else f", {self.organisation}"
        return (
            f"Windows licence audit {self.period}{whose}{state}: "
            f"{self.unlicensed:,} Windows {servers} ran unbilled{news}"
        )


def digest_of(run: ReportInput, run_dir: Path) -> Digest:
    """The digest of a run read back with its history (`load_run_with_history`)."""
    history = changes_display(run)
    judged = verdict(run)
    return Digest(
        period=run.report.run.period.label,
        taken_at=run.report.run.taken_at,
        run_dir=run_dir,
        complete=run.report.run.coverage.complete,
        verdict=judged,
        summary=tuple(line for line in executive_summary(run, history) if line != judged),
        figures=tuple(headline_figures(run)),
        unlicensed=run.figures.unlicensed,
        new_unlicensed=run.figures.new_unlicensed if history.present else None,
        period_status=None if run.figures.period is None else run.figures.period.text,
        organisation=run.report.run.organisation,
        signed=run.figures.signed,
        ran=(*run.figures.ran_by_service, run.figures.ran_total),
    )


def digest_from_run_dir(run_dir: Path) -> Digest:
    """Read a run folder and the history beside it (damage: InputError naming the file)."""
    return digest_of(load_run_with_history(run_dir), run_dir)
