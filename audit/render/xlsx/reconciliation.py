"""The Reconciliation sheet: the period's bills against the VMs billed, once `invoice RUN_DIR`
has run."""

from __future__ import annotations

from openpyxl import Workbook

from audit.render.reconciliation import ReconciliationDisplay
from audit.render.xlsx.cells import Sheet

_MONEY_FORMAT = "#,##0.00"


def write_sheet(workbook: Workbook, rec: ReconciliationDisplay) -> None:
    """Per service and licence value, invoiced against billed; every unclassified line whole.
    No sheet before `invoice RUN_DIR` has run."""
    if not rec.present:
        return
    sheet = Sheet(workbook, "Reconciliation", [24, 34, 12, 14, 16, 10, 11, 11, 16, 40, 60])
    sheet.ws.sheet_view.showGridLines = False
    sheet.title(f"Invoice reconciliation {rec.period}", rec.comparison)
    bills = ", ".join(f"{bill.bill_id} ({bill.date})" for bill in rec.bills)
    sheet.pair(rec.window, bills or "a --bills file: no bill, every line it holds", span=8)
    sheet.pair("Rows", rec.counts, span=8)
    sheet.pair("Wording", rec.wording, span=8)
    for value, regex in rec.patterns:
        sheet.pair(f"[invoice.patterns] {value}", regex, span=8)
    sheet.section("Invoiced against billed, per service and licence value")
    sheet.header(
        [
            "Service",
            "Licence",
            "Invoiced quantity",
            "Unit price",
            "Total",
            "Currency",
            "Billed VMs",
            "Difference",
            "Status",
            "Severity",
            "Bill lines",
        ]
    )
    for line in rec.rows:
        row = line.row
        single = len(row.totals) == 1
        unit = None if row.unit_price is None else float(row.unit_price.value)
        total = float(row.totals[0].total) if single else line.total  # currencies side by side
        values = [
            row.service_name,
            row.license,
            float(row.invoiced_quantity),
            unit,
            total,
            row.totals[0].currency if single else None,
            row.billed_vms,
            float(row.difference),
            row.status.value,
            line.severity,
            ", ".join(row.lines),
        ]
        cells = [sheet.value(value) for value in values]
        for money in (3, 4):  # amounts show their cents
            if isinstance(values[money], float):
                cells[money] = sheet.cell(values[money], number_format=_MONEY_FORMAT)
        sheet.append_cells(cells)
    sheet.section("Lines of the run's services not compared (unclassified or another period)")
    sheet.header(
        [
            "Status",
            "Severity",
            "Bill",
            "Line",
            "Service",
            "Billing period",
            "Quantity",
            "Unit price",
            "Total",
            "Reason",
            "Description",
        ]
    )
    for shown in (*rec.unclassified, *rec.outside_period):
        bill_line = shown.entry.line
        sheet.append(
            [
                shown.status or "outside the period",
                shown.severity,
                bill_line.bill_id,
                bill_line.bill_detail_id,
                bill_line.domain,
                shown.period,
                bill_line.quantity_text,
                shown.unit_price,
                shown.total,
                shown.entry.reason,
                bill_line.description,
            ]
        )
