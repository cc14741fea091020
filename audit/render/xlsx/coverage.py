"""The Coverage sheet: what the collector listed versus what it could read, per datacenter."""

from __future__ import annotations

from openpyxl import Workbook

from audit.render.base import ReportInput
from audit.render.coverage import datacenter_coverage, describe_failure
from audit.render.xlsx.cells import (
    TOP,
    WRAP,
    Sheet,
    coverage_pair,
    line_count,
)

_FAILURES_PER_CELL = 50


def write_sheet(workbook: Workbook, run: ReportInput) -> None:
    """Per datacenter: listed, fetched, failed, and the errors (every one is in findings.json)."""
    coverage = run.inventory.coverage
    sheet = Sheet(workbook, "Coverage", [24, 11, 32, 11, 11, 11, 12, 100])
    sheet.ws.sheet_view.showGridLines = False
    sheet.title("Coverage", "What the collector listed versus what it could read.")
    coverage_pair(sheet, coverage.complete, len(coverage.failures), span=2)
    sheet.section("Per datacenter")
    sheet.header(
        [
            "Service",
            "Datacenter",
            "Name",
            "VMs listed",
            "VMs fetched",
            "VMs failed",
            "vmLicensed read",
            "Errors",
        ]
    )
    for dc in datacenter_coverage(run):
        lines = [describe_failure(failure) for failure in dc.failures[:_FAILURES_PER_CELL]]
        if len(dc.failures) > _FAILURES_PER_CELL:
            lines.append(f"... and {len(dc.failures) - _FAILURES_PER_CELL} more in findings.json")
        errors = "\n".join(lines) or None
        sheet.append_cells(
            [
                *(
                    sheet.cell(value, alignment=TOP)
                    for value in (
                        dc.service_name,
                        dc.datacenter_id,
                        dc.name,
                        dc.vms_listed,
                        dc.vms_fetched,
                        dc.vms_listed - dc.vms_fetched,
                        dc.vm_licensed_read,
                    )
                ),
                sheet.cell(errors, alignment=WRAP),
            ],
            line_count(errors, sheet.widths[-1]),
        )
