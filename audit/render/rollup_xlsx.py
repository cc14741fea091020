"""The roll-up's report.xlsx: an Accounts sheet first, then every account's findings.

Built with the single-account workbook's cell toolkit (audit/render/xlsx.py), so API text is
never a formula here either, and dated from the latest snapshot of the accounts (document
properties and zip entries), so a rebuild from the same folders gives the same bytes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Font

from audit.model.exposure import BILLING_RULE
from audit.model.rollup import Rollup
from audit.render.rollup_view import (
    FIGURE_LABELS,
    FINDING_HEADERS,
    LICENCE_LABELS,
    AccountRow,
    account_rows,
    figure_cell,
    finding_cells,
    status_text,
    summary_line,
    totals,
)
from audit.render.xlsx.cells import (
    LABEL_FONT,
    TONE_FONT,
    TOP,
    WRAP,
    Column,
    Sheet,
    Table,
    clean_text,
    line_count,
    naive,
)
from audit.render.xlsx.workbook import save
from audit.support.timestamps import parse_utc

_ACCOUNT_COLUMNS: tuple[Column, ...] = (
    Column("Account", 16),
    Column("Status", 16),
    Column("Verdict", 44, wrap=True),
    Column("Coverage", 40, wrap=True),
    *(Column(label, 14, wrap=True) for label in FIGURE_LABELS),
    *(Column(label, 11, wrap=True) for label in LICENCE_LABELS),
    Column("Findings", 10),
    Column("Open", 8),
    Column("Snapshot taken (UTC)", 20),
    Column("Run folder", 22),
    Column("Reason", 50, wrap=True),
)
# Widths and wrapping of FINDING_HEADERS, in their order.
_FINDING_WIDTHS = (16, 22, 10, 9, 20, 11, 9, 30, 11, 12, 26, 28, 60, 16, 16, 10)
_FINDING_COLUMNS: tuple[Column, ...] = tuple(
    Column(header, width, wrap=header == "Message")
    for header, width in zip(FINDING_HEADERS, _FINDING_WIDTHS, strict=True)
)
_ZIP_EPOCH = datetime(1980, 1, 1)


class RollupXlsx:
    """The roll-up's workbook."""

    filename = "report.xlsx"

    def render(self, rollup: Rollup, path: Path) -> None:
        workbook = Workbook(write_only=True)
        taken = max(naive(parse_utc(rollup.taken_at)) or _ZIP_EPOCH, _ZIP_EPOCH)
        _set_properties(workbook, rollup, taken)
        _accounts_sheet(workbook, rollup)
        _findings_sheet(workbook, rollup)
        stamp = (taken.year, taken.month, taken.day, taken.hour, taken.minute, taken.second)
        save(workbook, path, (*stamp[:5], stamp[5] // 2 * 2))


def _set_properties(workbook: Workbook, rollup: Rollup, taken: datetime) -> None:
    props = workbook.properties
    props.title = f"Windows licence compliance audit {rollup.period}, all accounts"
    props.subject = f"Roll-up of {len(rollup.accounts)} OVHcloud account(s), period {rollup.period}"
    props.creator = f"ovh-license-audit {rollup.tool_version}"
    props.lastModifiedBy = props.creator
    props.keywords = f"period={rollup.period}; rollup"
    props.category = "Licence compliance"
    props.created = taken
    props.modified = taken
    for name, value in (("period", rollup.period), ("tool_version", rollup.tool_version)):
        workbook.custom_doc_props.append(StringProperty(name=name, value=clean_text(value)))


def _account_cells(sheet: Sheet, row: AccountRow) -> tuple[list[Any], int]:
    entry = row.entry
    tone = TONE_FONT.get(row.tone)
    figures = row.figures or (None,) * len(FIGURE_LABELS)
    licences = row.licences or (None,) * len(LICENCE_LABELS)
    folder = sheet.cell(entry.folder, alignment=TOP)
    if row.workbook_link is not None:
        folder.hyperlink = row.workbook_link
    texts = (entry.verdict, entry.coverage, entry.reason)
    widths = (44, 40, 50)
    cells = [
        sheet.cell(entry.name, font=LABEL_FONT, alignment=TOP),
        sheet.cell(status_text(entry), alignment=TOP, **({"font": tone} if tone else {})),
        sheet.cell(entry.verdict, alignment=WRAP),
        sheet.cell(entry.coverage, alignment=WRAP),
        *(sheet.cell(figure_cell(figure), alignment=TOP) for figure in figures),
        *(sheet.cell(value, alignment=TOP) for value in licences),
        sheet.cell(entry.findings if entry.rolled_up else None, alignment=TOP),
        sheet.cell(entry.open_findings if entry.rolled_up else None, alignment=TOP),
        sheet.cell(naive(parse_utc(entry.taken_at)) or entry.taken_at, alignment=TOP),
        folder,
        sheet.cell(entry.reason, alignment=WRAP),
    ]
    lines = max(line_count(text, width) for text, width in zip(texts, widths, strict=True))
    return cells, lines


def _accounts_sheet(workbook: Workbook, rollup: Rollup) -> None:
    """One row per account, failed ones included, then the sums over those rolled up."""
    sheet = Sheet(workbook, "Accounts", [c.width for c in _ACCOUNT_COLUMNS])
    sheet.ws.sheet_view.showGridLines = False
    sheet.title(
        "Windows licence compliance audit: all accounts",
        f"OVHcloud Hosted Private Cloud, period {rollup.period}",
    )
    sheet.append_cells([sheet.cell(summary_line(rollup), font=Font(bold=True))])
    sheet.append_cells([sheet.cell(BILLING_RULE)])
    sheet.blank()
    sheet.header([c.header for c in _ACCOUNT_COLUMNS])
    rows = account_rows(rollup)
    for row in rows:
        cells, lines = _account_cells(sheet, row)
        sheet.append_cells(cells, lines)
    total = totals(rollup, rows)
    sheet.append_cells(
        [
            sheet.cell(f"Total ({total.rolled_up} of {total.accounts})", font=LABEL_FONT),
            None,
            None,
            None,
            *(sheet.cell(figure_cell(figure), font=LABEL_FONT) for figure in total.figures),
            *(sheet.cell(value, font=LABEL_FONT) for value in total.licences),
            sheet.cell(total.findings, font=LABEL_FONT),
            sheet.cell(total.open_findings, font=LABEL_FONT),
        ]
    )


def _findings_sheet(workbook: Workbook, rollup: Rollup) -> None:
    """Every account's findings, the account first, in each run's own order."""
    table = Table(workbook, "Findings", _FINDING_COLUMNS, fit_width=False, frozen="B2")
    for item in rollup.findings:
        table.row(finding_cells(item))
    table.finish()
    table.colour_severity(3)
