"""A table's rows written as text (audit/render/xlsx/rows.py) are the bytes openpyxl writes for
the same cells: hostile text, white space, unicode, numbers, dates, guarded text, empty
values, styled and plain columns, tall rows, and rows around them written by openpyxl."""

from __future__ import annotations

import itertools
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell

from audit.render.xlsx.cells import (
    REVIEW_COLUMNS,
    REVIEW_FILL,
    TOP,
    UNLOCKED,
    WRAP,
    Column,
    Sheet,
    Table,
    line_count,
)
from audit.render.xlsx.rows import LINE_HEIGHT
from audit.render.xlsx.workbook import save
from tests.helpers.render import HOSTILE_NAMES

VALUES: tuple[Any, ...] = (
    *HOSTILE_NAMES,
    "plain",
    " leading",
    "trailing ",
    "\u00a0no-break\u2028",
    "",
    "]]>",
    "carriage\rreturn",
    "in\ttab",
    "a & b < c > d",
    "x" * 200,
    "long words " * 30,
    0,
    -7,
    2**60,
    3.25,
    float("nan"),
    True,
    date(2026, 5, 31),
    datetime(2026, 5, 31, 23, 59, 58),
    None,
)
COLUMNS = (
    Column("Name", 12, wrap=True),
    Column("Id", 8),
    Column("Licence", 18, wrap=True),
    Column("Count", 9),
    *REVIEW_COLUMNS,
)
STAMP = (2026, 6, 1, 2, 0, 0)


def rows() -> list[list[Any]]:
    """Every value in every column, shifted row by row, and rows longer than the table."""
    width = len(COLUMNS) + 1
    cycle = itertools.cycle(VALUES)
    return [[next(cycle) for _ in range(width - (n % 3))] for n in range(len(VALUES) * 3)]


def as_text(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def written_by_table(path: Path, wraps: bool) -> None:
    workbook = Workbook(write_only=True)
    columns = COLUMNS if wraps else tuple(Column(c.header, c.width) for c in COLUMNS)
    table = Table(workbook, "Table", columns)
    table.blank()
    for values in rows():
        table.row(values)
        table.pair("between", "openpyxl's own row")
    table.finish()
    save(workbook, path, STAMP)


def written_by_openpyxl(path: Path, wraps: bool) -> None:
    """The same rows as openpyxl cells, one by one (what `Table.row` wrote before)."""
    workbook = Workbook(write_only=True)
    columns = COLUMNS if wraps else tuple(Column(c.header, c.width) for c in COLUMNS)
    table = Table(workbook, "Table", columns)
    table.blank()
    top = any(c.wrap for c in columns)
    for values in rows():
        cells: list[Any] = []
        lines = 1
        for index, value in enumerate(values):
            column = columns[index] if index < len(columns) else None
            style: dict[str, Any] = {}
            if column is not None and column.wrap:
                style["alignment"] = WRAP
                lines = max(lines, line_count(value, column.width))
            if column is not None and column.editable:
                style |= {"protection": UNLOCKED, "fill": REVIEW_FILL}
            if top and not style:
                style["alignment"] = TOP
            cells.append(None if value is None else cell(table, value, style))
        table.append_cells(cells, lines)
        table.pair("between", "openpyxl's own row")
    table.finish()
    save(workbook, path, STAMP)


def cell(sheet: Sheet, value: Any, style: dict[str, Any]) -> Cell:
    converted = sheet.value(value)
    result = converted if isinstance(converted, Cell) else WriteOnlyCell(sheet.ws, converted)
    for name, setting in style.items():
        setattr(result, name, setting)
    return result


def test_table_rows_are_the_bytes_openpyxl_writes(tmp_path: Path) -> None:
    for wraps in (True, False):
        ours, theirs = tmp_path / f"ours-{wraps}.xlsx", tmp_path / f"theirs-{wraps}.xlsx"
        written_by_table(ours, wraps)
        written_by_openpyxl(theirs, wraps)
        mine, reference = as_text(ours), as_text(theirs)
        assert mine.keys() == reference.keys()
        for name in reference:
            assert mine[name] == reference[name], (wraps, name)
        sheet = reference["xl/worksheets/sheet1.xml"]
        # The comparison covers what matters: styled cells, escapes, tall rows, numbers.
        assert b' s="' in sheet and b"&lt;script&gt;" in sheet and b"&#13;" in sheet
        assert b"&#128640;" in sheet and b'xml:space="preserve"' in sheet
        tall = f'ht="{LINE_HEIGHT * 27:g}" customHeight="1"><c r="A'.encode()
        assert (tall in sheet) == wraps
        assert b't="n"><v>' in sheet and b'quotePrefix="1"' in reference["xl/styles.xml"]
