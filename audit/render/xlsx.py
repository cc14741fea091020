"""report.xlsx: the workbook auditors filter, annotate and keep as evidence.

Streamed with openpyxl's write-only mode so a 100,000-VM fleet renders in bounded memory.
Two guarantees matter more than looks:

- No value from the API ever becomes a formula or an error cell. Write-only mode turns any
  string starting with `=` into a formula (and `#N/A` into an error), so such strings, and all
  that start like a CSV injection (`= + - @`, tab, CR), are written as explicit string cells
  with Excel's quote prefix: shown exactly, kept as text even when someone edits the cell.
- Same inputs, same bytes: document dates come from the snapshot time and the zip entries
  carry that time too, so a rebuilt report can be compared with the one that was sent.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.formatting.rule import CellIsRule
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.pagebreak import Break
from openpyxl.writer.excel import ExcelWriter

from audit.model.exceptions import ExceptionRow
from audit.model.exposure import BILLING_RULE
from audit.model.findings import SEVERITIES, STATUSES
from audit.model.history import REVIEW_STATUSES
from audit.model.position import NO_LICENCE, LicencePosition, LicenceUsage, UsageTotal
from audit.render.base import RunData
from audit.render.catalogue import RuleCatalogue, rule_catalogue
from audit.render.exposure import DAY_HEADERS, ExposureDisplay, day_cells, exposure_display
from audit.render.reconciliation import ReconciliationDisplay, reconciliation_display
from audit.render.remediation import remediation_display
from audit.render.safe_text import is_formula_like, visible_controls
from audit.render.view import (
    SEVERITY_COLOURS,
    SIGN_OFF_ROLES,
    ChangesDisplay,
    arrivals,
    changes_display,
    count_sorted,
    datacenter_coverage,
    describe_failure,
    executive_summary,
    findings_reviewed,
    first_seen,
    has_history,
    headline_figures,
    iter_inventory,
    open_delta,
    total_label,
)

_EXCEL_MAX_TEXT = 32767

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F3A5F")
_HEADER_ALIGN = Alignment(vertical="center", wrap_text=True)
_TITLE_FONT = Font(bold=True, size=16, color="1F3A5F")
_SECTION_FONT = Font(bold=True, size=12, color="1F3A5F")
_LABEL_FONT = Font(bold=True)
_REVIEW_FILL = PatternFill("solid", fgColor="FFF8E1")
_UNLOCKED = Protection(locked=False)
_TOP = Alignment(vertical="top")
_WRAP = Alignment(wrap_text=True, vertical="top")
_LEFT = Alignment(horizontal="left")
_INDENT = Alignment(indent=1)
_DATE_FORMAT = "yyyy-mm-dd"
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_COVERAGE_FILL = {
    True: PatternFill("solid", fgColor="E8F5E9"),
    False: PatternFill("solid", fgColor="C62828"),
}
_COVERAGE_FONT = {True: Font(bold=True, color="1B5E20"), False: Font(bold=True, color="FFFFFF")}
_TONE_FONT = {
    "bad": Font(bold=True, color="B71C1C"),
    "good": Font(bold=True, color="2E7D32"),
    "warn": Font(bold=True, color="C25E00"),
}
_WRAP_WIDE = Alignment(wrap_text=True, vertical="top")
# Points per line of 11 pt text; Excel caps a row at 409 pt.
_LINE_HEIGHT = 15.0
_MAX_LINES = 27
# The Findings sheet prints several pages wide at this scale (%) rather than one unreadable one.
_WIDE_SCALE = 70
_A4 = "9"  # OOXML paperSize


@dataclass(frozen=True)
class Column:
    """A table column: header, width in characters, wrapping, and whether reviewers edit it."""

    header: str
    width: float
    wrap: bool = False
    editable: bool = False


class XlsxReport:
    """The Renderer for report.xlsx."""

    filename = "report.xlsx"

    def render(self, run: RunData, path: Path) -> None:
        """Write the workbook: eight sheets, plus Reconciliation once `invoice` has run and
        Changes when there is a previous run."""
        workbook = Workbook(write_only=True)
        _set_properties(workbook, run)
        catalogue = rule_catalogue()
        history = changes_display(run)
        _summary_sheet(workbook, run, catalogue, history)
        _findings_sheet(workbook, run, catalogue)
        _inventory_sheet(workbook, run)
        _licence_sheet(workbook, run)
        _exposure_sheet(workbook, run)
        _exposure_vm_sheet(workbook, run)
        _unsettled_sheet(workbook, run)
        _reconciliation_sheet(workbook, reconciliation_display(run))
        _exceptions_sheet(workbook, run)
        _coverage_sheet(workbook, run)
        _rules_sheet(workbook, run, catalogue)
        _position_sheet(workbook, run.figures.position)
        if history.previous_period:
            _changes_sheet(workbook, run, history, catalogue)
        _remediation_sheet(workbook, run)
        _save(workbook, path, _zip_time(run))


def _naive(moment: datetime | None) -> datetime | None:
    """A UTC datetime as Excel keeps it: without a time zone."""
    return None if moment is None else moment.replace(tzinfo=None)


def clean_text(value: str) -> str:
    """Make any API string storable: control characters shown as escapes, Excel's length cap."""
    return visible_controls(value)[:_EXCEL_MAX_TEXT]


def needs_guard(value: str) -> bool:
    """True when openpyxl or a spreadsheet would read the text as something other than text."""
    return is_formula_like(value) or value in ERROR_CODES


def line_count(value: Any, width: float) -> int:
    """Lines a wrapped cell needs in a column `width` characters wide (a safe over-estimate).

    LibreOffice keeps a streamed row one line tall and prints the wrapped lines overlapping,
    so the row height is set from this rather than left to the application.
    """
    if not isinstance(value, str):
        return 1
    per_line = max(int(width) - 2, 1)
    lines = sum(max(1, -(-len(part) // per_line)) for part in value.split("\n"))
    return min(lines, _MAX_LINES)


def _print_setup(ws: Any, label: str, fit_width: bool = True) -> None:
    """Landscape A4, one page wide (or, for a wide table, several pages wide at a legible
    scale), as many pages down as needed; each page says what it is.

    Set when the sheet is created: write-only mode writes the fit-to-page flag with the
    sheet's first row.
    """
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = _A4
    if fit_width:
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
    else:  # a band of rows prints with all its columns before the next band
        ws.page_setup.scale = _WIDE_SCALE
        ws.page_setup.pageOrder = "overThenDown"
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.page_margins.header = ws.page_margins.footer = 0.25
    footer = ws.HeaderFooter.oddFooter
    footer.left.text = label.replace("&", "&&")
    footer.center.text = "&A"
    footer.right.text = "Page &P of &N"
    footer.left.size = footer.center.size = footer.right.size = 8


class _Sheet:
    """One write-only sheet: turns Python values into cells, never into formulas."""

    def __init__(
        self,
        workbook: Workbook,
        title: str,
        widths: Sequence[float],
        fit_width: bool = True,
    ) -> None:
        self.ws = workbook.create_sheet(title)
        _print_setup(self.ws, str(workbook.properties.title), fit_width)
        self.widths = tuple(widths)
        for index, width in enumerate(widths, 1):
            self.ws.column_dimensions[get_column_letter(index)].width = width
        self.rows = 0

    def cell(self, value: Any, **style: Any) -> Cell:
        """A styled cell; `value` goes through the same guard as every other value."""
        value = self.value(value)
        cell = value if isinstance(value, Cell) else WriteOnlyCell(self.ws, value)
        for name, setting in style.items():
            setattr(cell, name, setting)
        return cell

    def value(self, value: Any) -> Any:
        """A raw value openpyxl writes as-is, or a cell when the type alone would mislead."""
        if type(value) is str:  # the common case first: this runs for every cell
            return self._text(value)
        if isinstance(value, bool):
            return "yes" if value else "no"
        if value is None or isinstance(value, int | float):
            return value
        if isinstance(value, datetime):
            return self._dated(value, _DATETIME_FORMAT)
        if isinstance(value, date):
            return self._dated(value, _DATE_FORMAT)
        return self._text(str(value))

    def _text(self, value: str) -> Any:
        text = clean_text(value)
        if not needs_guard(text):
            return text
        cell = WriteOnlyCell(self.ws, text)
        cell.data_type = "s"
        cell.quotePrefix = True
        return cell

    def _dated(self, value: date, number_format: str) -> Cell:
        cell = WriteOnlyCell(self.ws, value)
        cell.number_format = number_format
        return cell

    def append(self, values: Iterable[Any]) -> None:
        self.ws.append([self.value(v) for v in values])
        self.rows += 1

    def append_cells(self, cells: list[Any], lines: int = 1) -> None:
        """Append values already converted (cells or raw values from `value`), `lines` tall."""
        if lines > 1:
            self.ws.row_dimensions[self.rows + 1].height = _LINE_HEIGHT * lines
        self.ws.append(cells)
        self.rows += 1

    def blank(self) -> None:
        self.ws.append([])
        self.rows += 1

    def title(self, text: str, subtitle: str | None = None) -> None:
        self.append_cells([self.cell(text, font=_TITLE_FONT)], lines=2)
        if subtitle is not None:
            self.append_cells([self.cell(subtitle, font=Font(italic=True, color="555555"))])

    def section(self, text: str, new_page: bool = False) -> None:
        """A section title; `new_page` starts a printed page with it where the application
        honours manual breaks on a fit-to-width sheet (LibreOffice does, Excel does not)."""
        self.blank()
        if new_page:
            self.ws.row_breaks.append(Break(id=self.rows))
        self.append_cells([self.cell(text, font=_SECTION_FONT)])

    def header(self, headers: Sequence[str]) -> None:
        """A styled header row, tall enough for headers that wrap in narrow columns."""
        lines = max(line_count(h, w) for h, w in zip(headers, self.widths, strict=False))
        self.append_cells(
            [
                self.cell(h, font=_HEADER_FONT, fill=_HEADER_FILL, alignment=_HEADER_ALIGN)
                for h in headers
            ],
            lines,
        )

    def pair(self, label: str, value: Any, span: int = 1, **style: Any) -> None:
        """A label and its value; a filled value spans `span` cells so its overflow shows."""
        style.setdefault("alignment", _LEFT)
        band = [self.cell(None, fill=style["fill"]) for _ in range(span - 1) if "fill" in style]
        self.append_cells([self.cell(label, font=_LABEL_FONT), self.cell(value, **style), *band])


class _Table(_Sheet):
    """A sheet that is one filterable table with a frozen, styled header row."""

    def __init__(
        self,
        workbook: Workbook,
        title: str,
        columns: Sequence[Column],
        fit_width: bool = True,
        frozen: str = "A2",
        title_columns: str | None = None,
    ) -> None:
        super().__init__(workbook, title, [c.width for c in columns], fit_width)
        self.columns = columns
        # Set before the first row: write-only mode writes the sheet view with it.
        self.ws.freeze_panes = frozen
        self.ws.print_title_rows = "1:1"
        if title_columns is not None:
            self.ws.print_title_cols = title_columns
        # Per column, the style its written cells carry; None for a plain column.
        self._styles: list[dict[str, Any] | None] = []
        # With wrapped columns rows grow taller, and every cell is top-aligned to read as a row.
        self._wraps = any(c.wrap for c in columns)
        for index, column in enumerate(columns):
            style: dict[str, Any] = {"alignment": _WRAP} if column.wrap else {}
            if column.editable:
                style |= {"protection": _UNLOCKED, "fill": _REVIEW_FILL}
                # The column's own style: empty cells, and rows people add, are editable too.
                dimension = self.ws.column_dimensions[get_column_letter(index + 1)]
                for name, setting in style.items():
                    setattr(dimension, name, setting)
            self._styles.append(style or None)
        self.header([c.header for c in columns])

    def row(self, values: Sequence[Any]) -> None:
        """One data row; empty cells are not written, so editable ones keep their column style."""
        if not any(self._styles):
            self.append(values)
            return
        cells: list[Any] = []
        lines = 1
        for index, value in enumerate(values):
            style = self._styles[index] if index < len(self._styles) else None
            if value is None:
                cells.append(None)
            elif style is not None:
                cells.append(self.cell(value, **style))
                if self.columns[index].wrap:
                    lines = max(lines, line_count(value, self.widths[index]))
            else:
                cells.append(self.cell(value, alignment=_TOP) if self._wraps else self.value(value))
        self.append_cells(cells, lines)

    @property
    def last_column(self) -> str:
        return str(get_column_letter(len(self.columns)))

    def finish(self) -> None:
        """Filter buttons over the header and every data row (set before the sheet closes)."""
        self.ws.auto_filter.ref = f"A1:{self.last_column}{max(self.rows, 1)}"

    def colour_severity(self, column: int) -> None:
        """Severity colours by conditional formatting, so they follow edits and sorting."""
        if self.rows < 2:
            return
        letter = get_column_letter(column)
        cells = f"{letter}2:{letter}{self.rows}"
        for severity in SEVERITIES:
            colour = SEVERITY_COLOURS[severity]
            self.ws.conditional_formatting.add(
                cells,
                CellIsRule(
                    operator="equal",
                    formula=[f'"{severity}"'],
                    fill=PatternFill("solid", fgColor=colour.tint[1:], bgColor=colour.tint[1:]),
                    font=Font(bold=True, color=colour.strong[1:]),
                ),
            )


def _set_properties(workbook: Workbook, run: RunData) -> None:
    """Title, subject and custom properties name the period and the snapshot digest."""
    meta = run.report.run
    period = meta.period
    taken = _naive(meta.taken) or datetime(1980, 1, 1)
    props = workbook.properties
    props.title = f"Windows licence compliance audit {period}"
    props.subject = (
        f"OVHcloud Hosted Private Cloud Windows SPLA licences, period {period}, "
        f"snapshot sha256 {run.snapshot_sha256}"
    )
    props.creator = f"ovh-license-audit {meta.tool_version}".strip()
    props.lastModifiedBy = props.creator
    props.keywords = f"period={period}; snapshot_sha256={run.snapshot_sha256}"
    props.category = "Licence compliance"
    props.identifier = run.snapshot_sha256
    props.created = taken
    props.modified = taken
    for name, value in (
        ("period", period.label),
        ("snapshot_sha256", run.snapshot_sha256),
        ("endpoint", meta.endpoint),
        ("tool_version", meta.tool_version),
    ):
        workbook.custom_doc_props.append(StringProperty(name=name, value=clean_text(value)))


def _coverage_pair(sheet: _Sheet, complete: bool, failures: int, span: int) -> None:
    """The coverage verdict: green when complete, a red band when anything could not be read."""
    sheet.pair(
        "Coverage",
        "complete" if complete else f"INCOMPLETE: {failures:,} object(s) could not be read",
        span=span,
        fill=_COVERAGE_FILL[complete],
        font=_COVERAGE_FONT[complete],
    )


# The Summary's first column: labels, the signed position's lines and its notes.
_SUMMARY_LABEL_WIDTH = 44


def _summary_sheet(
    workbook: Workbook,
    run: RunData,
    catalogue: RuleCatalogue,
    history: ChangesDisplay,
) -> None:
    """The run's identity (period, time, endpoint, digest), its coverage and the counts."""
    meta = run.report.run
    summary = run.report.summary
    coverage = meta.coverage
    complete = coverage.complete
    # Narrow value columns so the count tables read as tables; long values overflow right.
    sheet = _Sheet(workbook, "Summary", [_SUMMARY_LABEL_WIDTH, 20, 14, 16, 70, 14, 14])
    sheet.ws.sheet_view.showGridLines = False
    period_status = run.figures.period
    sheet.title(
        "Windows licence compliance audit",
        "OVHcloud Hosted Private Cloud, "
        + ("" if meta.organisation is None else f"{meta.organisation}, ")
        + f"period {meta.period}"
        + ("" if period_status is None else f" ({period_status.text})"),
    )
    signed_position_block(sheet, run)
    sheet.section("Executive summary", new_page=True)
    for line in executive_summary(run, history):
        style: dict[str, Any] = {}
        if line.tone in _TONE_FONT:
            style["font"] = _TONE_FONT[line.tone]
        sheet.pair(line.label, line.text, **style)
    sheet.section("Headline figures")
    if period_status is not None:
        sheet.pair("Period", period_status.sentence, font=_TONE_FONT["warn"])
    figures = headline_figures(run)
    previous = run.history.previous
    sheet.header(
        [
            "Figure",
            "Value",
            "Of",
            f"Change since {previous.period}" if previous else "Change",
            "Definition",
        ]
    )
    for figure in figures:
        sheet.append_cells(
            [
                sheet.cell(figure.label, font=_LABEL_FONT, alignment=_WRAP),
                sheet.cell(figure.value, alignment=_TOP),
                sheet.cell(figure.of, alignment=_TOP),
                _signed(sheet, figure.change, alignment=_TOP),
                sheet.cell(figure.definition, alignment=_WRAP_WIDE),
            ],
            max(line_count(figure.definition, 60), line_count(figure.label, 28)),
        )
    sheet.section("Run")
    if meta.organisation is not None:
        sheet.pair("Organisation", meta.organisation)
    sheet.pair(
        "Period",
        str(meta.period) + ("" if period_status is None else f" ({period_status.text})"),
    )
    sheet.pair("Snapshot taken (UTC)", _naive(meta.taken) or meta.taken_at)
    sheet.pair("API endpoint", meta.endpoint)
    sheet.pair("Tool version", meta.tool_version)
    sheet.pair("Snapshot sha256", run.snapshot_sha256)
    failures = len(coverage.failures)
    _coverage_pair(sheet, complete, failures, span=5)
    for label, key in (
        ("Services listed", "services_listed"),
        ("Services read", "services_read"),
        ("Datacenters listed", "datacenters_listed"),
        ("Datacenters read", "datacenters_read"),
        ("VMs listed", "vms_listed"),
        ("VMs fetched", "vms_fetched"),
    ):
        sheet.pair(label, getattr(coverage, key))

    counts = run.figures
    sheet.section("Findings by severity")
    delta = open_delta(run)
    extra = [] if delta is None else [f"Open in {delta.period}", "Change in open"]
    sheet.header(["Severity", "Findings", "Open", *extra])
    for severity_count in counts.severities:
        severity = severity_count.severity
        values = [severity, severity_count.findings, severity_count.open]
        if delta is not None:
            values += [delta.previous[severity], delta.change[severity]]
        cells = [sheet.value(v) for v in values]
        if delta is not None:
            cells[-1] = _signed(sheet, delta.change[severity])
        sheet.append_cells(cells)
    total = ["total", counts.findings, counts.open]
    if delta is not None:
        total += [delta.previous_total, delta.change_total]
    cells = [sheet.cell(v, font=_LABEL_FONT) for v in total]
    if delta is not None:
        cells[-1] = _signed(sheet, delta.change_total, font=_LABEL_FONT)
    sheet.append_cells(cells)

    sheet.section("Findings by status")
    sheet.header(["Status", "Findings"])
    for status, count in count_sorted(summary.by_status, STATUSES):
        sheet.append([status, count])

    sheet.section("Findings by rule", new_page=True)
    sheet.header(["Rule", "Severity", "Findings", "Title"])
    by_rule = summary.by_rule
    for rule_id, count in sorted(by_rule.items(), key=lambda item: catalogue.order(item[0])):
        rule = catalogue.rule(rule_id, "")
        cells = [sheet.value(v) for v in (rule_id, rule.severity, count)]
        sheet.append_cells([*cells, sheet.cell(rule.title, alignment=_INDENT)])

    sheet.section("Findings by service")
    sheet.header(["Service", "Findings"])
    for service, count in count_sorted(summary.by_service):
        sheet.append([service, count])

    sheet.section("Windows guests at the snapshot, by service")
    sheet.header(["Service", *_WINDOWS_HEADERS])
    for usage in counts.windows_by_service:
        sheet.append([usage.service_name, *usage.counts()])
    _history_sections(sheet, history)
    _sign_off(sheet, run)


# The per-datacenter licence position: the appendix of the Summary's signed position.
POSITION_APPENDIX = "Appendix per datacenter"


def signed_position_block(sheet: _Sheet, run: RunData) -> None:
    """The position an auditor signs, at the top of the Summary: per service and licence value
    what OVHcloud bills for the period with totals, then the Windows Server guests that ran
    (audit/evaluate/signed.py computes both; this only lays them out)."""
    figures = run.figures
    sheet.section(f"Licence position {run.report.run.period}: what OVHcloud bills")
    sheet.append_cells(
        [sheet.cell(BILLING_RULE, alignment=_WRAP)], line_count(BILLING_RULE, _SUMMARY_LABEL_WIDTH)
    )
    sheet.header(["Service / licence", *_SIGNED_HEADERS])
    for line in figures.signed:
        numbers = (
            line.billed_vms,
            line.billed_vcpus,
            line.peak_vms,
            line.vms_at_close,
            line.vmlicensed_at_close,
        )
        if line.is_overall:
            label, style = "Total, every service", {"font": _LABEL_FONT, "fill": _TOTAL_FILL}
        elif line.is_total:
            label, style = f"Total, {line.service_name}", {"font": _LABEL_FONT}
        else:
            label, style = f"{line.service_name}: {line.license}", {}
        sheet.append_cells([sheet.cell(value, **style) for value in (label, *numbers)])
    for cost in figures.position.costs:
        sheet.append_cells(
            [
                sheet.cell(f"Cost: {cost.key.replace('_', ' ')}", font=_LABEL_FONT),
                sheet.cell(float(cost.amount), number_format="#,##0.00"),
                sheet.cell(cost.currency),
                sheet.cell(cost.unit),
            ]
        )
    sheet.section("Windows Server guests that ran this period")
    sheet.header(["Per service", *_RAN_HEADERS])
    for ran in (*figures.ran_by_service, figures.ran_total):
        total = ran.service_name is None
        style = {"font": _LABEL_FONT, "fill": _TOTAL_FILL} if total else {}
        values = (
            "Total, every service" if total else ran.service_name,
            ran.ran,
            ran.billed,
            ran.byol,
            ran.unbilled,
            ran.unbilled_vm_days,
            ran.other,
        )
        sheet.append_cells([sheet.cell(value, **style) for value in values])
    sheet.append_cells(
        [sheet.cell(SIGNED_COLUMNS_NOTE, alignment=_WRAP)],
        line_count(SIGNED_COLUMNS_NOTE, _SUMMARY_LABEL_WIDTH),
    )


_SIGNED_HEADERS = ("Billed VMs", "Billed vCPUs", "Peak", "At close", "vmLicensed")
_RAN_HEADERS = ("Ran", "Billed", "BYOL", "Ran unbilled", "VM-days unbilled", "Other")
SIGNED_COLUMNS_NOTE = (
    "Billed VMs: the VMs that carried the value on an observed day they were powered on; "
    "billed vCPUs: the sum of their most vCPUs on such a day. Peak: the most VMs carrying it "
    "on one observed day, per datacenter, summed. At close: VMs carrying it at the snapshot. "
    "vmLicensed: the vmLicensed entries naming it at the snapshot, deleted VMs included "
    "(empty: not read). Ran unbilled: the open WIN-UNLICENSED findings. Per datacenter: "
    f"sheet {POSITION_APPENDIX}."
)


_WINDOWS_HEADERS = (
    "Windows guests",
    "Correctly licensed",
    "BYOL",
    "No licence at the snapshot",
    "Licence does not fit",
    "Unclear",
)


def _sign_off(sheet: _Sheet, run: RunData) -> None:
    """Who prepared, reviewed and approved the audit, and when: cells for people to fill."""
    sheet.section("Sign-off", new_page=True)
    reviewed = findings_reviewed(run)
    sheet.pair(
        "Findings reviewed",
        f"{reviewed:,} of {len(run.report.findings):,} carry a review status",
    )
    sheet.header(["Role", "Name", "Date", "Signature / comment"])
    for role in SIGN_OFF_ROLES:
        blank = [sheet.cell(None, fill=_REVIEW_FILL, protection=_UNLOCKED) for _ in range(3)]
        blank[1].number_format = _DATE_FORMAT
        sheet.append_cells([sheet.cell(role, font=_LABEL_FONT), *blank], lines=2)


def _history_sections(sheet: _Sheet, history: ChangesDisplay) -> None:
    """What the history stage adds, when it has run: changes since last month and the trend."""
    if history.present:
        sheet.section(f"Since the previous run ({history.previous_period or 'none'})", True)
        sheet.header(["What", "Count"])
        for change, count in history.changes:
            sheet.append([f"{change} findings", count])
        for outcome, count in history.gone_counts:
            sheet.append([f"gone: {outcome.replace('_', ' ')}", count])
        for event, count in history.event_counts:
            sheet.append([event.replace("_", " "), count])
    if history.trend:
        sheet.section("Trend of open findings")
        sheet.header(history.trend_keys)
        header_row = sheet.rows
        for row in history.trend:
            sheet.append(row)
        _trend_chart(sheet, history.trend_keys, header_row)


_SIGNED_FORMAT = "+#,##0;-#,##0;0"


def _signed(sheet: _Sheet, change: int | None, **style: Any) -> Any:
    """A change stays a number (it sums and sorts) shown as people write it: +3, -2, 0."""
    return sheet.cell(change, number_format=_SIGNED_FORMAT, **style)


def _trend_chart(sheet: _Sheet, keys: Sequence[str], header_row: int) -> None:
    """A native stacked column chart over the trend table: open findings by severity per run."""
    if "period" not in keys or not set(SEVERITIES) & set(keys):
        return
    chart = BarChart()
    chart.type = "col"
    chart.grouping = "stacked"
    chart.overlap = 100
    chart.title = "Open findings by severity, last runs"
    chart.y_axis.title = "Open findings"
    chart.height, chart.width = 7.5, 16
    last = sheet.rows
    for severity in SEVERITIES:
        if severity not in keys:
            continue
        column = keys.index(severity) + 1
        chart.add_data(
            Reference(sheet.ws, min_col=column, min_row=header_row, max_row=last),
            titles_from_data=True,
        )
        chart.series[-1].graphicalProperties.solidFill = SEVERITY_COLOURS[severity].strong[1:]
    period = keys.index("period") + 1
    chart.set_categories(Reference(sheet.ws, min_col=period, min_row=header_row + 1, max_row=last))
    # Below the table rather than beside it: the sheet still prints one narrow page wide.
    sheet.ws.add_chart(chart, f"A{last + 2}")


# Narrow, wrapped columns: the sheet prints one page wide and no value is cut (a licence value
# such as "windows 2025 Datacenter SQL2022 Enterprise" wraps whole in its column).
_FINDING_COLUMNS: tuple[Column, ...] = (
    Column("VM name", 20, wrap=True),
    Column("VM id", 8),
    Column("Rule", 15, wrap=True),
    Column("Severity", 9),
    Column("Status", 9),
    Column("Service", 14, wrap=True),
    Column("Datacenter", 11),
    Column("Folder", 12, wrap=True),
    Column("Cluster", 12, wrap=True),
    Column("moRef", 10, wrap=True),
    Column("Power state", 11, wrap=True),
    Column("Guest OS (configured)", 17, wrap=True),
    Column("Licence", 18, wrap=True),
    Column("Message", 44, wrap=True),
    Column("Rule title", 22, wrap=True),
    Column("Remediation", 32, wrap=True),
    Column("Exception kind", 10, wrap=True),
    Column("Exception rule", 12, wrap=True),
    Column("Exception reason", 18, wrap=True),
    Column("Approved by", 12, wrap=True),
    Column("Expires", 11),
    Column("Reference", 12, wrap=True),
)
# The VM's name and id stay in view (frozen) and head every printed page.
_FINDING_FROZEN = "C2"
_FINDING_TITLE_COLUMNS = "A:B"
_HISTORY_COLUMNS: tuple[Column, ...] = (
    Column("First seen", 9),
    Column("First seen on", 11),
    Column("Change", 10),
)
_REVIEW_COLUMNS: tuple[Column, ...] = (
    Column("Review status", 13, editable=True),
    Column("Owner", 14, editable=True),
    Column("Comment", 30, editable=True, wrap=True),
)


def _findings_sheet(workbook: Workbook, run: RunData, catalogue: RuleCatalogue) -> None:
    """Every finding, worst first, with its rule's title and remediation, and three columns
    for reviewers.

    The sheet is not protected: Excel refuses to sort a protected sheet when the range holds
    locked cells (even with sorting allowed), and unlocking every cell would protect nothing.
    The review columns are marked and validated instead, and `import-review` refuses a row
    whose Service, Datacenter, VM id or Rule no longer names a finding of the run.
    """
    findings = run.report.findings
    with_history = has_history(findings)
    columns = _FINDING_COLUMNS + (_HISTORY_COLUMNS if with_history else ()) + _REVIEW_COLUMNS
    table = _Table(
        workbook,
        "Findings",
        columns,
        frozen=_FINDING_FROZEN,
        title_columns=_FINDING_TITLE_COLUMNS,
    )
    for finding in sorted(findings, key=catalogue.finding_order()):
        rule = catalogue.rule(finding.rule_id, finding.severity.value)
        values: list[Any] = [
            finding.vm_name,
            finding.vm_id,
            finding.rule_id,
            finding.severity.value,
            finding.status.value,
            finding.service_name,
            finding.datacenter_id,
            finding.folder,
            finding.cluster,
            finding.moref,
            finding.power_state,
            finding.guest_os_family,
            finding.license,
            finding.message,
            rule.title,
            rule.remediation or None,
            *_exception_values(finding.exception),
        ]
        if with_history:
            values += [
                *first_seen(finding),
                None if finding.change is None else finding.change.value,
            ]
        values += run.history.review_cells(finding.fingerprint)
        table.row(values)
    table.finish()
    table.colour_severity(4)
    _review_validation(table, len(columns) - len(_REVIEW_COLUMNS) + 1)


def _review_validation(table: _Table, column: int) -> None:
    """The Review status column's drop-down: one of REVIEW_STATUSES, or empty."""
    review = get_column_letter(column)
    validation = DataValidation(
        type="list",
        formula1='"' + ",".join(REVIEW_STATUSES) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Review status",
        error="Choose one of: " + ", ".join(REVIEW_STATUSES),
        showInputMessage=True,
        promptTitle="Review status",
        prompt=", ".join(REVIEW_STATUSES),
    )
    validation.add(f"{review}2:{review}{max(table.rows, 2)}")
    table.ws.data_validations.append(validation)


# The sheet `import-review` reads to settle an earlier period's shortfall from any later
# workbook (audit/history/review.py reads it by these headers).
UNSETTLED_SHEET = "Unsettled shortfalls"
_UNSETTLED_COLUMNS: tuple[Column, ...] = (
    Column("Period", 10),
    Column("Service", 24),
    Column("Datacenter", 11),
    Column("VM id", 9),
    Column("VM", 28),
    Column("Guest OS", 24),
    Column("Days unlicensed", 10),
    *_REVIEW_COLUMNS,
)


def _unsettled_sheet(workbook: Workbook, run: RunData) -> None:
    """Every earlier period's shortfall not reviewed `settled`, with its review columns: set
    Review status to `settled` here and `import-review` this workbook to settle it."""
    unsettled = run.report.unsettled_shortfalls
    if not unsettled:
        return
    table = _Table(workbook, UNSETTLED_SHEET, _UNSETTLED_COLUMNS, frozen="A2")
    for item in unsettled:
        shortfall = item.shortfall
        table.row(
            [
                item.period,
                shortfall.service_name,
                shortfall.datacenter_id,
                shortfall.vm_id,
                shortfall.vm_name,
                shortfall.guest_os_family,
                shortfall.days_unlicensed,
                item.review_status,
                item.owner,
                None,
            ]
        )
    table.finish()
    _review_validation(table, len(_UNSETTLED_COLUMNS) - len(_REVIEW_COLUMNS) + 1)


def _exception_values(row: ExceptionRow | None) -> list[Any]:
    """Kind, rule, reason, approved by, expires, reference; Nones without an exception."""
    if row is None:
        return [None] * 6
    return [
        row.kind.value,
        row.rule_id or None,
        row.reason or None,
        row.approved_by or None,
        row.expires,
        row.reference or None,
    ]


_INVENTORY_COLUMNS: tuple[Column, ...] = (
    Column("Service", 24),
    Column("Datacenter", 11),
    Column("VM id", 9),
    Column("VM name", 30, wrap=True),
    Column("moRef", 12),
    Column("Power state", 12),
    Column("Guest OS (configured)", 26, wrap=True),
    Column("Guest kind", 15),
    Column("Guest OS meaning", 30),
    Column("Guest OS (Tools)", 26, wrap=True),
    Column("Licence", 30, wrap=True),
    Column("Licence kind", 13),
    Column("vCPUs", 7),
    Column("Memory (MB)", 12),
    Column("Cluster", 16),
    Column("Host", 16),
    Column("Folder", 16),
    Column("Findings", 40, wrap=True),
)


def _inventory_sheet(workbook: Workbook, run: RunData) -> None:
    table = _Table(workbook, "Inventory", _INVENTORY_COLUMNS)
    for vm in iter_inventory(run):
        table.row(
            [
                vm.service_name,
                vm.datacenter_id,
                vm.vm_id,
                vm.name,
                vm.moref,
                vm.power_state,
                vm.guest_os_family,
                vm.guest_kind,
                vm.guest_label,
                vm.tools_guest_os_family,
                vm.license,
                vm.licence_kind,
                vm.vcpus,
                vm.memory_mb,
                vm.cluster,
                vm.host,
                vm.folder,
                vm.rule_ids or None,
            ]
        )
    table.finish()


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
_TOTAL_FILL = PatternFill("solid", fgColor="E6EBF1")


def _position_sheet(workbook: Workbook, position: LicencePosition) -> None:
    """What OVHcloud bills (findings.json `licences`): one filterable row per service,
    datacenter and licence value, totals of the billable ones, then the Control Panel's
    counters beside ours and, with [prices], the monthly amounts."""
    table = _Table(workbook, POSITION_APPENDIX, _POSITION_COLUMNS)
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
        style = {"font": _LABEL_FONT, "fill": _TOTAL_FILL} if grand else {"font": _LABEL_FONT}
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
                    table.cell(value, alignment=_TOP)
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
                table.cell(explained, alignment=_WRAP),
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
                    table.cell(cost.definition, alignment=_WRAP),
                ],
                line_count(cost.definition, 70),
            )


_USAGE_COLUMNS: tuple[Column, ...] = (
    Column("Service", 28),
    Column("Datacenter", 12),
    Column("Licence", 34, wrap=True),
    Column("VMs", 10),
    Column("Powered on", 12),
    Column("Powered off", 12),
    Column("vCPUs", 10),
    Column("vCPUs on", 12),
    Column("vCPUs off", 12),
)


def _licence_sheet(workbook: Workbook, run: RunData) -> None:
    """VMs and vCPUs per licence value (a filterable table with its total), then per licence
    over every service, then Windows guests by licence situation, each with totals."""
    figures = run.figures
    table = _Table(workbook, "Licence usage", _USAGE_COLUMNS)
    for row in figures.usage:
        table.row(_usage_row(row.service_name, row.datacenter_id, row.license, row))
    table.finish()
    totals = figures.usage_totals
    grand = _usage_row("Total", None, "all licences", totals.overall)
    _total_row(table, grand)
    table.section("By licence, all services")
    table.header([c.header for c in _USAGE_COLUMNS])
    for total in totals.by_licence:
        table.append(_usage_row("all services", None, total.license, total))
    _total_row(table, grand)
    table.section("Windows guests by licence situation (deleted VMs excluded)")
    table.header(["Service", "Datacenter", *_WINDOWS_HEADERS])
    for usage in figures.windows:
        table.append([usage.service_name, usage.datacenter_id, *usage.counts()])
    _total_row(table, ["Total", None, *figures.windows_total.counts()])


def _usage_row(
    service: Any, dc: Any, licence: str | None, counts: LicenceUsage | UsageTotal
) -> list[Any]:
    """Service, datacenter, licence (no licence named NO_LICENCE), VMs on and off, vCPUs on
    and off."""
    return [
        service,
        dc,
        licence or NO_LICENCE,
        counts.vms,
        counts.vms_powered_on,
        counts.vms_powered_off,
        counts.vcpus,
        counts.vcpus_powered_on,
        counts.vcpus_powered_off,
    ]


def _total_row(sheet: _Sheet, values: Sequence[Any]) -> None:
    sheet.append_cells([sheet.cell(value, font=_LABEL_FONT, fill=_TOTAL_FILL) for value in values])


_EXCEPTION_COLUMNS: tuple[Column, ...] = (
    Column("Register line", 9),
    Column("Service", 24),
    Column("Datacenter", 11),
    Column("VM id", 9),
    Column("Rule", 18),
    Column("Kind", 9),
    Column("Reason", 40, wrap=True),
    Column("Approved by", 20),
    Column("Expires", 11),
    Column("Reference", 18),
    Column("State", 10),
    Column("Days to expiry", 10),
    Column("Findings matched", 10),
)


def _exceptions_sheet(workbook: Workbook, run: RunData) -> None:
    table = _Table(workbook, "Exceptions", _EXCEPTION_COLUMNS)
    for state in run.report.exceptions:
        row = state.row
        values: list[Any] = [
            row.line,
            row.service_name or None,
            row.datacenter_id,
            row.vm_id,
            row.rule_id or None,
            row.kind.value,
            row.reason or None,
            row.approved_by or None,
            row.expires,
            row.reference or None,
            state.state.value,
            state.days_to_expiry,
            state.findings_matched,
        ]
        table.row(values)
    table.finish()


_FAILURES_PER_CELL = 50


def _coverage_sheet(workbook: Workbook, run: RunData) -> None:
    """Per datacenter: listed, fetched, failed, and the errors (every one is in findings.json)."""
    coverage = run.inventory.coverage
    sheet = _Sheet(workbook, "Coverage", [24, 11, 32, 11, 11, 11, 12, 100])
    sheet.ws.sheet_view.showGridLines = False
    sheet.title("Coverage", "What the collector listed versus what it could read.")
    _coverage_pair(sheet, coverage.complete, len(coverage.failures), span=2)
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
                    sheet.cell(value, alignment=_TOP)
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
                sheet.cell(errors, alignment=_WRAP),
            ],
            line_count(errors, sheet.widths[-1]),
        )


_RULE_COLUMNS: tuple[Column, ...] = (
    Column("Rule", 22),
    Column("Title", 40, wrap=True),
    Column("Severity", 10),
    Column("Findings", 10),
    Column("Open", 8),
    Column("Rationale", 70, wrap=True),
    Column("Remediation", 60, wrap=True),
)


def _rules_sheet(workbook: Workbook, run: RunData, catalogue: RuleCatalogue) -> None:
    by_rule = run.report.summary.by_rule
    open_counts = run.figures.open_by_rule
    table = _Table(workbook, "Rules", _RULE_COLUMNS)
    for rule in catalogue:
        table.row(
            [
                rule.id,
                rule.title,
                rule.severity,
                by_rule.get(rule.id, 0),
                open_counts[rule.id],
                rule.rationale,
                rule.remediation,
            ]
        )
    table.finish()
    table.colour_severity(3)


_CHANGE_COLUMNS: tuple[Column, ...] = (
    Column("Change", 18),
    Column("Severity", 10),
    Column("Rule", 22),
    Column("Service", 24),
    Column("Datacenter", 11),
    Column("VM id", 9),
    Column("VM name", 30, wrap=True),
    Column("First seen", 11),
    Column("Before", 30),
    Column("After", 30),
    Column("Details", 60, wrap=True),
)


def _changes_sheet(
    workbook: Workbook, run: RunData, history: ChangesDisplay, catalogue: RuleCatalogue
) -> None:
    """Everything that changed since the previous run, one filterable table: new and reopened
    findings, findings gone (fixed, VM removed, or unverified), then licence events."""
    table = _Table(workbook, "Changes", _CHANGE_COLUMNS)
    for finding in arrivals(run):
        table.row(
            [
                None if finding.change is None else finding.change.value,
                finding.severity.value,
                finding.rule_id,
                finding.service_name,
                finding.datacenter_id,
                finding.vm_id,
                finding.vm_name,
                first_seen(finding)[0],
                None,
                None,
                finding.message,
            ]
        )
    for gone in history.gone:
        record = gone.record
        rule = catalogue.rule(record.rule_id, record.severity)
        table.row(
            [
                f"gone: {gone.outcome.replace('_', ' ')}",
                record.severity,
                record.rule_id,
                record.service_name,
                record.datacenter_id,
                record.vm_id,
                record.vm_name,
                gone.first_seen.period,
                None,
                None,
                f"{rule.title}; last seen {gone.last_seen.period or 'in the previous run'}",
            ]
        )
    for event in history.events:
        now = ", ".join(
            f"{label} {value or '(none)'}"
            for label, value in (("guest OS", event.guest_os_family), ("licence", event.license))
        )
        table.row(
            [
                event.event.value.replace("_", " "),
                None,
                None,
                event.service_name,
                event.datacenter_id,
                event.vm_id,
                event.vm_name,
                None,
                event.before,
                event.after,
                f"now: {now}",
            ]
        )
    table.finish()
    table.colour_severity(2)


def _zip_time(run: RunData) -> tuple[int, int, int, int, int, int]:
    """The snapshot time as a zip timestamp (zip cannot go before 1980)."""
    taken = _naive(run.report.run.taken) or datetime(1980, 1, 1)
    taken = max(taken, datetime(1980, 1, 1))
    return (taken.year, taken.month, taken.day, taken.hour, taken.minute, taken.second // 2 * 2)


class _StampedZip(zipfile.ZipFile):
    """A zip whose every entry carries one fixed time, so equal content gives equal bytes.

    openpyxl stamps entries with the current time (writestr) or a temp file's mtime (write).
    """

    def __init__(self, path: Path, stamp: tuple[int, int, int, int, int, int]) -> None:
        super().__init__(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self._stamp = stamp

    def _entry(self, name: str, size: int = 0) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        info.file_size = size
        return info

    def writestr(
        self,
        zinfo_or_arcname: str | zipfile.ZipInfo,
        data: Any,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        name = (
            zinfo_or_arcname.filename
            if isinstance(zinfo_or_arcname, zipfile.ZipInfo)
            else zinfo_or_arcname
        )
        super().writestr(self._entry(name), data)

    def write(
        self,
        filename: str | os.PathLike[str],
        arcname: str | os.PathLike[str] | None = None,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        name = os.fspath(arcname if arcname is not None else filename)
        info = self._entry(name, Path(filename).stat().st_size)
        with Path(filename).open("rb") as source, self.open(info, "w") as target:
            shutil.copyfileobj(source, target, 1 << 20)


def _save(workbook: Workbook, path: Path, stamp: tuple[int, int, int, int, int, int]) -> None:
    """Save like openpyxl does, minus its clock: properties and zip times stay as set."""
    archive = _StampedZip(path, stamp)
    try:
        ExcelWriter(workbook, archive).save()
    finally:
        archive.close()


def _exposure_sheet(workbook: Workbook, run: RunData) -> None:
    """The period: days observed, per licence value peak and licence-days (per VM: sheet
    Exposure by VM). The Licence column is wide enough for the longest licence value."""
    exposure = exposure_display(run)
    sheet = _Sheet(workbook, "Exposure", [28, 12, 12, 44, 34, 30, 12, 12, 12, 12, 12, 30, 12])
    sheet.ws.sheet_view.showGridLines = False
    sheet.title("Exposure over the period", exposure.observed_line or None)
    sheet.pair("Billing rule", exposure.billing_rule, span=8)
    if exposure.notice:
        sheet.pair("Note", exposure.notice, span=8)
    if not exposure.present:
        _unsettled_section(sheet, exposure)
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
    _unsettled_section(sheet, exposure)


# Wide enough that a row is one line (a guest OS family, a licence value up to 28
# characters); longer values wrap whole rather than being cut.
_EXPOSURE_VM_COLUMNS: tuple[Column, ...] = (
    Column("Service", 18, wrap=True),
    Column("Datacenter", 11),
    Column("VM", 9),
    Column("Name", 26, wrap=True),
    Column("Guest OS (last observed)", 29, wrap=True),
    Column("Licence (last observed)", 30, wrap=True),
    Column("Days observed", 10),
    Column("Days powered on", 10),
    Column("Days unlicensed", 11),
    Column("First unlicensed", 11),
    Column("Last unlicensed", 11),
    Column("Billed", 30, wrap=True),
    Column("Shortfall", 10),
)


def _exposure_vm_sheet(workbook: Workbook, run: RunData) -> None:
    """Windows guests and licensed VMs, their days over the period: one filterable table
    with a frozen header repeated on every printed page."""
    exposure = exposure_display(run)
    if not exposure.present:
        return
    table = _Table(workbook, "Exposure by VM", _EXPOSURE_VM_COLUMNS)
    for vm in exposure.vms:
        table.row(
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
                ", ".join(vm.billed),
                "yes" if vm.shortfall else "no",
            ]
        )
    table.finish()


def _unsettled_section(sheet: _Sheet, exposure: ExposureDisplay) -> None:
    """Earlier periods' shortfalls not reviewed settled (reviewed in their own workbook)."""
    sheet.section("Shortfalls of earlier periods not reviewed settled")
    headers = ["Period", "Service", "Datacenter", "VM", "Name", "Guest OS", "Days unlicensed"]
    sheet.header([*headers, "Review status", "Owner"])
    for item in exposure.unsettled:
        shortfall = item.shortfall
        sheet.append(
            [
                item.period,
                shortfall.service_name,
                shortfall.datacenter_id,
                shortfall.vm_id,
                shortfall.vm_name,
                shortfall.guest_os_family,
                shortfall.days_unlicensed,
                item.review_status,
                item.owner,
            ]
        )


def _remediation_sheet(workbook: Workbook, run: RunData) -> None:
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
    sheet = _Sheet(workbook, "Remediation", [10, 66, 24, 24, 9, 9, 9, 9, 9, 9, 9, 20, 40])
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


_MONEY_FORMAT = "#,##0.00"


def _reconciliation_sheet(workbook: Workbook, rec: ReconciliationDisplay) -> None:
    """Per service and licence value, invoiced against billed; every unclassified line whole.
    No sheet before `invoice RUN_DIR` has run."""
    if not rec.present:
        return
    sheet = _Sheet(workbook, "Reconciliation", [24, 34, 12, 14, 16, 10, 11, 11, 16, 40, 60])
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
