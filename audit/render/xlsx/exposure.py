"""The Exposure sheet: the period's days observed (how each was made, and its file), per
licence value peak, licence-days and billed VMs, and the earlier periods' shortfalls not
reviewed settled (per VM: audit/render/xlsx/exposure_vm.py)."""

from __future__ import annotations

from openpyxl import Workbook

from audit.render.base import ReportInput
from audit.render.exposure import (
    DAY_HEADERS,
    ExposureDisplay,
    day_cells,
    exposure_display,
    unsettled_cells,
)
from audit.render.xlsx.cells import Sheet


def write_sheet(workbook: Workbook, run: ReportInput) -> None:
    """The period: days observed, per licence value peak and licence-days (per VM: sheet
    Exposure by VM). The Licence column is wide enough for the longest licence value."""
    exposure = exposure_display(run)
    sheet = Sheet(workbook, "Exposure", [28, 12, 12, 44, 34, 30, 12, 12, 12, 12, 12, 30, 12])
    sheet.ws.sheet_view.showGridLines = False
    sheet.title("Exposure over the period", exposure.observed_line or None)
    sheet.pair("Billing rule", exposure.billing_rule, span=8)
    if exposure.notice:
        sheet.pair("Note", exposure.notice, span=8)
    if not exposure.present:
        unsettled_section(sheet, exposure)
        return
    sheet.pair("Missing days", ", ".join(exposure.missing_days) or "none", span=8)
    sheet.pair(
        "Incomplete days (unread = unobserved)",
        ", ".join(exposure.incomplete_days) or "none",
        span=8,
    )
    if exposure.uncounted_line:
        sheet.pair("Not counted", exposure.uncounted_line, span=8)
    if exposure.days:
        sheet.section("Observed days: how each was made, and its file")
        sheet.header(list(DAY_HEADERS))
        for day in exposure.days:
            sheet.append(day_cells(day))
    sheet.section("Peak, licence-days and billed VMs per licence value")
    sheet.header(
        [
            "Service",
            "Datacenter",
            "Billable",
            "Licence",
            "Peak VMs",
            "Licence-days",
            "Billed VMs",
            "Billed vCPUs",
        ]
    )
    for line in exposure.licences:
        row = line.figures
        billable = "yes" if line.billable else "no"
        sheet.append(
            [
                row.service_name,
                row.datacenter_id,
                billable,
                row.license,
                row.peak_vms,
                row.licence_days,
                row.billed_vms,
                row.billed_vcpus,
            ]
        )
    sheet.pair(
        "Per VM",
        "the days of every Windows guest and licensed VM: sheet Exposure by VM",
        span=8,
    )
    unsettled_section(sheet, exposure)


def unsettled_section(sheet: Sheet, exposure: ExposureDisplay) -> None:
    """Earlier periods' shortfalls not reviewed settled (reviewed in their own workbook)."""
    sheet.section("Shortfalls of earlier periods not reviewed settled")
    headers = ["Period", "Service", "Datacenter", "VM", "Name", "Guest OS", "Days unlicensed"]
    sheet.header([*headers, "Review status", "Owner"])
    for item in exposure.unsettled:
        sheet.append(unsettled_cells(item))
