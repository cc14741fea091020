"""The Appendix per datacenter sheet (the licence position per service, datacenter and value):
what OVHcloud bills, its totals, the Control Panel beside it and, with [prices], the monthly
amounts. The Summary shows the position per service, the one an auditor signs."""

from __future__ import annotations

from openpyxl import Workbook

from audit.model.position import LicencePosition
from audit.render.position import total_label
from audit.render.xlsx.cells import (
    LABEL_FONT,
    POSITION_APPENDIX,
    TOP,
    TOTAL_FILL,
    WRAP,
    Column,
    Table,
    line_count,
)

_POSITION_COLUMNS: tuple[Column, ...] = (
    Column("Service", 24),
    Column("Datacenter", 12),
    Column("Licence", 34, wrap=True),
    Column("Billable", 10),
    Column("Billed VMs", 10),
    Column("Billed vCPUs", 10),
    Column("VMs", 10),
    Column("vCPUs", 10),
    Column("Peak VMs", 10),
    Column("Licence-days", 12),
    Column("vmLicensed", 12),
    Column("Explanation", 70, wrap=True),
)


def write_sheet(workbook: Workbook, position: LicencePosition) -> None:
    """What OVHcloud bills (findings.json `licences`): one filterable row per service,
    datacenter and licence value, totals of the billable ones, then the Control Panel's
    counters beside ours and, with [prices], the monthly amounts."""
    table = Table(workbook, POSITION_APPENDIX, _POSITION_COLUMNS)
    for row in position.rows:
        table.row(
            [
                row.service_name,
                row.datacenter_id,
                row.license,
                row.billable,
                row.billed_vms,
                row.billed_vcpus,
                row.vms_at_close,
                row.vcpus_at_close,
                row.peak_vms,
                row.licence_days,
                "not read" if row.vmlicensed_at_close is None else row.vmlicensed_at_close,
                None,
            ]
        )
    table.finish()
    table.section("Totals of billable licences")
    table.header([c.header for c in _POSITION_COLUMNS])
    for total in position.totals:
        service, licence = total_label(total)
        values = [
            f"Total: {service}",
            None,
            licence,
            True,
            total.billed_vms,
            total.billed_vcpus,
            total.vms_at_close,
            total.vcpus_at_close,
            None,
            total.licence_days,
            total.vmlicensed_at_close,
            None,
        ]
        grand = total.service_name is None and total.license is None
        style = {"font": LABEL_FONT, "fill": TOTAL_FILL} if grand else {"font": LABEL_FONT}
        table.append_cells([table.cell(value, **style) for value in values])
    table.section("Beside the OVHcloud Control Panel")
    table.header(
        [
            "Service",
            "Datacenter",
            "VMs (Control Panel)",
            "Windows VMs (Control Panel)",
            "Declared (Control Panel)",
            "Windows guests (audit)",
            "Older Windows ids",
            "Deleted Windows VMs",
            "VMs read",
            "Difference explained",
        ]
    )
    for panel in position.control_panel:
        explained = panel.difference() or "The counts agree."
        table.append_cells(
            [
                *(
                    table.cell(value, alignment=TOP)
                    for value in (
                        panel.service_name,
                        panel.datacenter_id,
                        panel.vms,
                        panel.windows_vms,
                        panel.declared,
                        panel.windows_guests,
                        panel.older_windows_ids,
                        panel.deleted_windows_vms,
                        panel.vms_read,
                    )
                ),
                table.cell(explained, alignment=WRAP),
            ],
            line_count(explained, 70),
        )
    if position.costs:
        table.section("Monthly amounts ([prices])")
        table.header(["Amount", "Per month", "Currency", "VMs priced", "VMs without a price"])
        for cost in position.costs:
            table.append_cells(
                [
                    table.cell(cost.key.replace("_", " ")),
                    table.cell(float(cost.amount), number_format="#,##0.00"),
                    table.cell(cost.currency),
                    table.cell(cost.priced_vms),
                    table.cell(cost.unpriced_vms),
                    *([None] * 6),
                    table.cell(cost.definition, alignment=WRAP),
                ],
                line_count(cost.definition, 70),
            )
