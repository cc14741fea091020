"""A table's data rows written as the XML text openpyxl would write: the workbook's hot path.

At 100,000 VMs the tables hold about 2.7 million cells. openpyxl's write-only mode builds a
cell object per value, binds its type, hashes its style objects and opens three lxml elements
for it: about 10 microseconds a cell, which made the workbook most of the whole run. A table's
data row holds text already made storable (`cells.clean_text`, never a formula), numbers and
empty cells, with one style per column, so `TextRow` writes it as text in one piece, with the
style index looked up once per column. Any other value (a date, text guarded as a string)
arrives as an openpyxl cell and is written by openpyxl's own cell writer in its place.

The bytes are openpyxl's (with lxml): ASCII with decimal character references, `&`, `<`, `>`
and CR escaped, `xml:space="preserve"` on text with surrounding white space, `t="n"` numbers
through openpyxl's `safe_string` (tests/test_xlsx_rows.py compares both writers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from io import BufferedWriter
from pathlib import Path
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell._writer import write_cell
from openpyxl.cell.cell import Cell
from openpyxl.compat import safe_string
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.worksheet.dimensions import RowDimension
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import xmlfile


class ColumnStyle:
    """The style of a column's cells. Its font, fill and alignment are registered when the
    column's first cell is made and its style index when that cell is written, where openpyxl
    registers them for a cell of its own, so styles.xml is the same."""

    __slots__ = ("attribute", "settings", "template")

    def __init__(self, ws: WriteOnlyWorksheet, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.template = self.apply(WriteOnlyCell(ws))
        self.attribute: str | None = None  # ' s="N"' (or "" unstyled) once written

    def apply(self, cell: Cell) -> Cell:
        """Style an openpyxl cell of this column (a date, a guarded text) like a plain one."""
        for name, setting in self.settings.items():
            setattr(cell, name, setting)
        return cell

    def written(self) -> str:
        """The style attribute of the column's plain cells, registered on first use."""
        if self.attribute is None:
            styled = self.template.has_style
            self.attribute = f' s="{self.template.style_id}"' if styled else ""
        return self.attribute


class TextRow(list[Any]):
    """A table's data row: per column None (no cell), str (storable text), int or float, or
    an openpyxl cell; `styles` gives each plain value's column style, `lines` the row's
    height in lines of text."""

    __slots__ = ("lines", "styles")

    def __init__(
        self, values: Iterable[Any], styles: Sequence[ColumnStyle | None], lines: int
    ) -> None:
        super().__init__(values)
        self.styles = styles
        self.lines = lines


class RowSheet(WriteOnlyWorksheet):  # type: ignore[misc]
    """A write-only worksheet whose `append` also takes a `TextRow`."""

    _writer: _RowWriter | None

    def _get_writer(self) -> None:
        if self._writer is None:
            writer = _RowWriter(self)
            writer.write_top()
            self._writer = writer

    def _values_to_row(self, values: Any, row_idx: int) -> Any:
        if isinstance(values, TextRow):
            return values
        return super()._values_to_row(values, row_idx)


# Points per line of 11 pt text; Excel caps a row at 409 pt.
LINE_HEIGHT = 15.0
_LETTERS = [get_column_letter(index) for index in range(1, 16385)]


class _RowWriter(WorksheetWriter):  # type: ignore[misc]
    """openpyxl's worksheet writer, writing a `TextRow` into its file as text.

    lxml buffers what it writes: it is flushed before text goes to the file directly, so the
    file holds everything in the order it was written.
    """

    def __init__(self, ws: RowSheet) -> None:
        self._file: BufferedWriter | None = None
        self._buffered = True  # lxml may hold output not yet in the file
        self._heights: dict[int, str] = {}
        super().__init__(ws)

    def get_stream(self) -> Any:
        """openpyxl's, with the file opened here so rows can be written to it directly."""
        with Path(self.out).open("wb") as file, xmlfile(file) as xf:
            self._file = file
            with xf.element("worksheet", xmlns=SHEET_MAIN_NS):
                try:
                    while True:
                        el = yield
                        if el is True:
                            yield xf
                        elif el is not None:
                            xf.write(el)
                except GeneratorExit:
                    pass
            self._file = None

    def write_row(self, xf: Any, row: Any, row_idx: int) -> None:
        if not isinstance(row, TextRow):
            self._buffered = True
            super().write_row(xf, row, row_idx)
            return
        number = str(row_idx)
        parts = [f'<row r="{number}"{self._height(row.lines)}>']
        for index, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, Cell):
                self._emit(xf, parts)
                parts = []
                value.column = index + 1
                value.row = row_idx
                if value._value is not None or value.has_style:
                    write_cell(xf, self.ws, value, value.has_style)
                    self._buffered = True
                continue
            style = row.styles[index]  # made with the column's first cell
            assert style is not None
            cell = f'<c r="{_LETTERS[index]}{number}"{style.written()}'
            if isinstance(value, str):
                if not value:
                    parts.append(f'{cell} t="inlineStr"></c>')
                    continue
                space = ' xml:space="preserve"' if value != value.strip() else ""
                text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                if "\r" in text:
                    text = text.replace("\r", "&#13;")
                parts.append(f'{cell} t="inlineStr"><is><t{space}>{text}</t></is></c>')
            else:
                parts.append(f'{cell} t="n"><v>{safe_string(value)}</v></c>')
        parts.append("</row>")
        self._emit(xf, parts)

    def _emit(self, xf: Any, parts: list[str]) -> None:
        """Write the text of `parts` to the file, after what lxml holds."""
        if not parts:
            return
        if self._buffered:
            xf.flush()
            self._buffered = False
        assert self._file is not None
        self._file.write("".join(parts).encode("ascii", "xmlcharrefreplace"))

    def _height(self, lines: int) -> str:
        """The row's height attributes as openpyxl writes a row dimension's."""
        if lines <= 1:
            return ""
        known = self._heights.get(lines)
        if known is None:
            dimension = RowDimension(self.ws, index=1, ht=LINE_HEIGHT * lines)
            known = "".join(f' {name}="{value}"' for name, value in dimension)
            self._heights[lines] = known
        return known
