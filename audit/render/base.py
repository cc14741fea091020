"""The one interface every output format implements, and the run folder it reads.

Renderers read only the run folder (the snapshot's typed inventory, the run's report and the
history view), all typed records, so any report can be rebuilt offline from a stored run,
identically. No format knows another, and none parses a dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

from audit.evaluate.figures import ReportFigures, report_figures
from audit.evaluate.inventory import Inventory
from audit.model.history import HistoryView
from audit.model.run import RunReport


@dataclass(frozen=True)
class ReportInput:
    """What renderers may read.

    `inventory` is the snapshot's VMs, parsed once (audit/evaluate/inventory.py); `report`
    is what findings.json holds (audit/model/run.py); `history` what the history stage adds
    for reports beside it (previous counts, trend, carried-forward reviews), empty without a
    history.
    """

    inventory: Inventory
    snapshot_sha256: str
    report: RunReport
    history: HistoryView = field(default_factory=HistoryView)

    @cached_property
    def figures(self) -> ReportFigures:
        """The run's business figures, computed once by evaluate (audit/evaluate/figures.py)
        from the inventory and the report; renderers and the mail only format them."""
        return report_figures(self.inventory, self.report)


class Renderer(Protocol):
    """One output format: writes one file of the run folder."""

    filename: str

    def render(self, run: ReportInput, path: Path) -> None:
        """Write the format to `path` (a staging folder's file; the caller renames)."""
        ...
