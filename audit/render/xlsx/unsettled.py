"""The Unsettled shortfalls sheet: every earlier period's shortfall not reviewed `settled`,
with the review columns `import-review` reads, so any later month's workbook settles it."""

from __future__ import annotations

from openpyxl import Workbook

from audit.model.workbook import SHORTFALL_HEADERS, SHORTFALLS_SHEET
from audit.render.base import ReportInput
from audit.render.exposure import unsettled_cells
from audit.render.xlsx.cells import REVIEW_COLUMNS, Column, Table, review_validation

_PERIOD, _SERVICE, _DATACENTER, _VM_ID = SHORTFALL_HEADERS
_UNSETTLED_COLUMNS: tuple[Column, ...] = (
    Column(_PERIOD, 10),
    Column(_SERVICE, 24),
    Column(_DATACENTER, 11),
    Column(_VM_ID, 9),
    Column("VM", 28),
    Column("Guest OS", 24),
    Column("Days unlicensed", 10),
    *REVIEW_COLUMNS,
)


def write_sheet(workbook: Workbook, run: ReportInput) -> None:
    """Set Review status to `settled` here and `import-review` this workbook to settle the
    shortfall; no sheet when nothing is unsettled."""
    unsettled = run.report.unsettled_shortfalls
    if not unsettled:
        return
    table = Table(workbook, SHORTFALLS_SHEET, _UNSETTLED_COLUMNS, frozen="A2")
    for item in unsettled:
        table.row([*unsettled_cells(item), None])
    table.finish()
    review_validation(table, len(_UNSETTLED_COLUMNS) - len(REVIEW_COLUMNS) + 1)
