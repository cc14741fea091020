"""The workbook's cell toolkit: a write-only sheet that turns Python values into cells, never
into formulas; a filterable table; the print setup and the styles every sheet shares.

No value from the API ever becomes a formula or an error cell. Write-only mode turns any
string starting with `=` into a formula (and `#N/A` into an error), so such strings, and all
that start like a CSV injection (`= + - @`, tab, CR), are written as explicit string cells
with Excel's quote prefix: shown exactly, kept as text even when someone edits the cell.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, Cell
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.pagebreak import Break

from audit.model.findings import SEVERITIES
from audit.model.workbook import COMMENT, OWNER, REVIEW_STATUS, REVIEW_STATUSES
from audit.render.safe_text import is_formula_like, visible_controls
from audit.render.style import SEVERITY_COLOURS
from audit.render.xlsx.rows import LINE_HEIGHT, ColumnStyle, RowSheet, TextRow

_EXCEL_MAX_TEXT = 32767

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="1F3A5F")
_HEADER_ALIGN = Alignment(vertical="center", wrap_text=True)
_TITLE_FONT = Font(bold=True, size=16, color="1F3A5F")
_SECTION_FONT = Font(bold=True, size=12, color="1F3A5F")
LABEL_FONT = Font(bold=True)
REVIEW_FILL = PatternFill("solid", fgColor="FFF8E1")
UNLOCKED = Protection(locked=False)
TOP = Alignment(vertical="top")
WRAP = Alignment(wrap_text=True, vertical="top")
_LEFT = Alignment(horizontal="left")
INDENT = Alignment(indent=1)
DATE_FORMAT = "yyyy-mm-dd"
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_COVERAGE_FILL = {
    True: PatternFill("solid", fgColor="E8F5E9"),
    False: PatternFill("solid", fgColor="C62828"),
}
_COVERAGE_FONT = {True: Font(bold=True, color="1B5E20"), False: Font(bold=True, color="FFFFFF")}
TONE_FONT = {
    "bad": Font(bold=True, color="B71C1C"),
    "good": Font(bold=True, color="2E7D32"),
    "warn": Font(bold=True, color="C25E00"),
}
WRAP_WIDE = Alignment(wrap_text=True, vertical="top")
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


def naive(moment: datetime | None) -> datetime | None:
    """A UTC datetime as Excel keeps it: without a time zone."""
    return None if moment is None else moment.replace(tzinfo=None)


def clean_text(value: str) -> str:
    """Make any API string storable: control characters shown as escapes, Excel's length cap."""
    return visible_controls(value)[:_EXCEL_MAX_TEXT]


def needs_guard(value: str) -> bool:
    """True when openpyxl or a spreadsheet would read the text as something other than text."""
    return is_formula_like(value) or value in ERROR_CODES


@functools.lru_cache(maxsize=4096)
def _storable(value: str) -> tuple[str, bool]:
    """`clean_text` and `needs_guard` of a value, remembered: most cells repeat a value a few
    rows above (service, power state, guest OS, licence, rule); bounded memory."""
    text = clean_text(value)
    return text, needs_guard(text)


def line_count(value: Any, width: float) -> int:
    """Lines a wrapped cell needs in a column `width` characters wide (a safe over-estimate).

    LibreOffice keeps a streamed row one line tall and prints the wrapped lines overlapping,
    so the row height is set from this rather than left to the application.
    """
    if not isinstance(value, str):
        return 1
    per_line = max(int(width) - 2, 1)
    if len(value) <= per_line and "\n" not in value:
        return 1  # most values: nothing to count
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


class Sheet:
    """One write-only sheet: turns Python values into cells, never into formulas."""

    def __init__(
        self,
        workbook: Workbook,
        title: str,
        widths: Sequence[float],
        fit_width: bool = True,
    ) -> None:
        # What `workbook.create_sheet` does, with the sheet that also writes a table's rows
        # as text (audit/render/xlsx/rows.py).
        self.ws = RowSheet(parent=workbook, title=title)
        workbook._add_sheet(self.ws)
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
            return self._dated(value, DATE_FORMAT)
        return self._text(str(value))

    def _text(self, value: str) -> Any:
        text, guard = _storable(value)
        if not guard:
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
            self.ws.row_dimensions[self.rows + 1].height = LINE_HEIGHT * lines
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
        self.append_cells([self.cell(label, font=LABEL_FONT), self.cell(value, **style), *band])


class Table(Sheet):
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
        # Per column, the style its written cells carry (none for a plain column); with
        # wrapped columns rows grow taller, and every cell is top-aligned to read as a row.
        wraps = any(c.wrap for c in columns)
        self._settings: list[dict[str, Any]] = []
        for index, column in enumerate(columns):
            style: dict[str, Any] = {"alignment": WRAP} if column.wrap else {}
            if column.editable:
                style |= {"protection": UNLOCKED, "fill": REVIEW_FILL}
                # The column's own style: empty cells, and rows people add, are editable too.
                dimension = self.ws.column_dimensions[get_column_letter(index + 1)]
                for name, setting in style.items():
                    setattr(dimension, name, setting)
            self._settings.append(style or ({"alignment": TOP} if wraps else {}))
        self._beyond: dict[str, Any] = {"alignment": TOP} if wraps else {}
        # Made when a column's first cell is (TextRow: where openpyxl registers the style).
        self._styles: list[ColumnStyle | None] = [None] * len(columns)
        self._wrapped = [(index, c.width) for index, c in enumerate(columns) if c.wrap]
        self.header([c.header for c in columns])

    def row(self, values: Sequence[Any]) -> None:
        """One data row; empty cells are not written, so editable ones keep their column style."""
        cells = [None if value is None else self.value(value) for value in values]
        styles = self._styles
        if len(cells) > len(styles):
            styles += [None] * (len(cells) - len(styles))
        for index, cell in enumerate(cells):
            if cell is None:
                continue
            style = styles[index]
            if style is None:
                settings = self._settings[index] if index < len(self._settings) else self._beyond
                style = styles[index] = ColumnStyle(self.ws, settings)
            if isinstance(cell, Cell):
                style.apply(cell)
        lines = 1
        for index, width in self._wrapped:
            if index < len(values) and isinstance(value := values[index], str):
                lines = max(lines, line_count(value, width))
        self.ws.append(TextRow(cells, styles, lines))
        self.rows += 1

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


def coverage_pair(sheet: Sheet, complete: bool, failures: int, span: int) -> None:
    """The coverage verdict: green when complete, a red band when anything could not be read."""
    sheet.pair(
        "Coverage",
        "complete" if complete else f"INCOMPLETE: {failures:,} object(s) could not be read",
        span=span,
        fill=_COVERAGE_FILL[complete],
        font=_COVERAGE_FONT[complete],
    )


WINDOWS_HEADERS = (
    "Windows guests",
    "Correctly licensed",
    "BYOL",
    "No licence at the snapshot",
    "Licence does not fit",
    "Unclear",
)


_SIGNED_FORMAT = "+#,##0;-#,##0;0"


def signed(sheet: Sheet, change: int | None, **style: Any) -> Any:
    """A change stays a number (it sums and sorts) shown as people write it: +3, -2, 0."""
    return sheet.cell(change, number_format=_SIGNED_FORMAT, **style)


TOTAL_FILL = PatternFill("solid", fgColor="E6EBF1")


def total_row(sheet: Sheet, values: Sequence[Any]) -> None:
    sheet.append_cells([sheet.cell(value, font=LABEL_FONT, fill=TOTAL_FILL) for value in values])


# The per-datacenter licence position: the appendix of the Summary's signed position.
POSITION_APPENDIX = "Appendix per datacenter"

# The columns reviewers edit (Findings, Unsettled shortfalls); `import-review` reads them.
REVIEW_COLUMNS: tuple[Column, ...] = (
    Column(REVIEW_STATUS, 13, editable=True),
    Column(OWNER, 14, editable=True),
    Column(COMMENT, 30, editable=True, wrap=True),
)


def review_validation(table: Table, column: int) -> None:
    """The Review status column's drop-down: one of REVIEW_STATUSES, or empty."""
    review = get_column_letter(column)
    validation = DataValidation(
        type="list",
        formula1='"' + ",".join(REVIEW_STATUSES) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle=REVIEW_STATUS,
        error="Choose one of: " + ", ".join(REVIEW_STATUSES),
        showInputMessage=True,
        promptTitle=REVIEW_STATUS,
        prompt=", ".join(REVIEW_STATUSES),
    )
    validation.add(f"{review}2:{review}{max(table.rows, 2)}")
    table.ws.data_validations.append(validation)
