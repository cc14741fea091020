"""The Remediation sheet: the remediation applied since the previous run, recorded by
`remediate --apply` or `import-results` (a sheet only when there is some)."""

from __future__ import annotations

from openpyxl import Workbook

from audit.render.base import ReportInput
from audit.render.remediation import remediation_display
from audit.render.xlsx.cells import Sheet


def write_sheet(workbook: Workbook, run: ReportInput) -> None:
    """The remediation applied since the previous run: a sheet only when there is some."""
    display = remediation_display(run)
    if not display.rows:
        return
    headers = [
        "Plan of",
        "Plan sha256",
        "Started",
        "Finished",
        "Applied",
        "Failed",
        "Pending",
        "Skipped",
        "Capped",
        "Not attempted",
        "Manual",
        "Recorded by",
        "Results file",
    ]
    sheet = Sheet(workbook, "Remediation", [10, 66, 24, 24, 9, 9, 9, 9, 9, 9, 9, 20, 40])
    sheet.ws.sheet_view.showGridLines = False
    since = f" ({display.previous_period})" if display.previous_period else ""
    sheet.title(f"Remediation applied since the previous run{since}", display.line)
    sheet.header(headers)
    for row in display.rows:
        item = row.item
        sheet.append(
            [
                item.period,
                item.plan_sha256,
                row.started,
                row.finished,
                item.applied,
                item.failed,
                item.pending,
                item.skipped,
                item.capped,
                item.not_attempted,
                item.manual,
                item.source,
                item.results_file,
            ]
        )
