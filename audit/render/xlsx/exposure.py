"""The Exposure sheet: the period's days observed, per licence value peak and licence-days,
per VM its days."""

from __future__ import annotations

from openpyxl import Workbook

from audit.render.base import ReportInput
from audit.render.exposure import exposure_display
from audit.render.xlsx.cells import (
    Sheet,
)


def write_sheet(workbook: Workbook, run: ReportInput) -> None:
    """The period: days observed, per licence value peak and licence-days, per VM its days."""
    exposure = exposure_display(run)
    sheet = Sheet(workbook, "Exposure", [28, 12, 12, 30, 34, 30, 12, 12, 12, 12, 12])
    sheet.ws.sheet_view.showGridLines = False
    sheet.title("Exposure over the period", exposure.observed_line or None)
    if exposure.notice:
        sheet.pair("Note", exposure.notice, span=8)
    if not exposure.present:
        return
    sheet.pair("Missing days", ", ".join(exposure.missing_days) or "none", span=8)
    sheet.pair(
        "Incomplete days (unread = unobserved)",
        ", ".join(exposure.incomplete_days) or "none",
        span=8,
    )
    sheet.section("Peak and licence-days per licence value")
    sheet.header(["Service", "Datacenter", "Billable", "Licence", "Peak VMs", "Licence-days"])
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
            ]
        )
    sheet.section("Windows guests and licensed VMs: days over the period")
    sheet.header(
        [
            "Service",
            "Datacenter",
            "VM",
            "Name",
            "Guest OS (last observed)",
            "Licence (last observed)",
            "Days observed",
            "Days powered on",
            "Days unlicensed",
            "First unlicensed",
            "Last unlicensed",
        ]
    )
    for vm in exposure.vms:
        sheet.append(
            [
                vm.service_name,
                vm.datacenter_id,
                vm.vm_id,
                vm.name,
                vm.guest_os_family,
                vm.license,
                vm.days_observed,
                vm.days_powered_on,
                vm.days_unlicensed,
                vm.first_unlicensed,
                vm.last_unlicensed,
            ]
        )
