"""Invisible and direction-changing characters are shown, and formulas stay text, in every output.

A VM name is attacker-controlled: `\u202egnp.exe` would display as "exe.png", NUL or ESC would
reach a terminal or a spreadsheet raw. findings.csv, report.xlsx and report.html show such
characters as backslash escapes; findings.json keeps the value exactly (it is data).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import date
from pathlib import Path
from typing import Any

import lxml.html
import openpyxl
import pytest
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from audit.evaluate.engine import evaluate
from audit.evaluate.inventory import inventory_of
from audit.evaluate.report import run_report
from audit.model.period import Period
from audit.model.snapshot import encode_snapshot
from audit.render.base import ReportInput
from audit.render.csv_findings import FindingsCsv
from audit.render.html import render_html
from audit.render.safe_text import neutralise, visible_controls
from audit.render.xlsx import XlsxReport
from tests.helpers.history import PROD, WIN, snapshot
from tests.helpers.vms import api_vm

# name -> what the reports show
SHOWN = {
    "\u202egnp.exe": "\\u202egnp.exe",
    "nul\x00byte": "nul\\x00byte",
    "esc\x1b[31mred": "esc\\x1b[31mred",
    "del\x7fete": "del\\x7fete",
    "c1\x85\x9bnext": "c1\\x85\\x9bnext",
    "marks\u200e\u200f\u061c": "marks\\u200e\\u200f\\u061c",
    "embed\u202a\u202b\u202c\u202d": "embed\\u202a\\u202b\\u202c\\u202d",
    "isolate\u2066\u2067\u2068x\u2069": "isolate\\u2066\\u2067\\u2068x\\u2069",
    " \u202e=1": " \\u202e=1",  # escaped first: no longer starts like a formula
    "zero\u200bwidth\u2060join\ufeffbom": "zero\\u200bwidth\\u2060join\\ufeffbom",
}
# name -> what the CSV holds: a leading quote before spaces and a formula
FORMULAS = {
    " =1+1": "' =1+1",
    "   @SUM(A1)": "'   @SUM(A1)",
    "\t-2+3": "'\t-2+3",
    "\r\n+cmd": "'\r\n+cmd",
}
NAMES = [*SHOWN, *FORMULAS]
# Everything that must never reach the CSV, workbook or page raw.
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff]"
)


@pytest.fixture(scope="module")
def run() -> ReportInput:
    fleet = {(PROD, 1): [api_vm(i, WIN, None, name=name) for i, name in enumerate(NAMES, 1)]}
    snap = snapshot(fleet, "2026-01-01T03:00:00Z")
    sha256 = hashlib.sha256(encode_snapshot(snap)).hexdigest()
    inventory = inventory_of(snap)
    evaluation = evaluate(inventory, (), date(2026, 1, 1))
    report = run_report(Period(2026, 1), inventory, sha256, evaluation)
    return ReportInput(inventory=inventory, snapshot_sha256=sha256, report=report)


def test_the_visible_form() -> None:
    for name, shown in SHOWN.items():
        assert visible_controls(name) == shown
    assert visible_controls("tab\tand\nnew\r\nline") == "tab\tand\nnew\r\nline"
    assert visible_controls("serveur-élan-数据-🚀 ok") == "serveur-élan-数据-🚀 ok"


def test_formulas_behind_spaces_are_neutralised() -> None:
    for name, held in FORMULAS.items():
        assert neutralise(visible_controls(name)) == held
    for harmless in ("a =1", " plain", "", " ", "'quoted"):
        assert neutralise(harmless) == harmless


def test_findings_json_keeps_the_real_value(run: ReportInput) -> None:
    names = {f["vm_name"] for f in run.report.to_json()["findings"]}
    assert set(NAMES) <= names


def test_csv(run: ReportInput, tmp_path: Path) -> None:
    path = tmp_path / "findings.csv"
    FindingsCsv().render(run, path)
    text = path.read_bytes().decode("utf-8-sig")
    assert not FORBIDDEN.search(text)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    names = {row["vm_name"] for row in rows}
    assert {*SHOWN.values(), *FORMULAS.values()} <= names


def cells(book: Any) -> list[Any]:
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def test_xlsx(run: ReportInput, tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    XlsxReport().render(run, path)
    book = openpyxl.load_workbook(path)
    texts = [cell for cell in cells(book) if isinstance(cell.value, str)]
    assert not [cell.value for cell in texts if FORBIDDEN.search(cell.value)]
    values = {cell.value for cell in texts}
    assert set(SHOWN.values()) <= values
    for name in FORMULAS:
        matching = [cell for cell in texts if cell.value == visible_controls(name)]
        assert matching, name
        assert all(cell.quotePrefix and cell.data_type == "s" for cell in matching), name


def test_html(run: ReportInput) -> None:
    page = render_html(run)
    assert not FORBIDDEN.search(page)
    doc = lxml.html.fromstring(page)
    names = {el.text_content() for el in doc.find_class("vm-name")}
    assert set(SHOWN.values()) <= names


def test_nothing_openpyxl_refuses_survives() -> None:
    """openpyxl raises IllegalCharacterError on these; escaped, they can never reach it."""
    every = "".join(map(chr, range(0x00, 0xA0)))
    assert not ILLEGAL_CHARACTERS_RE.search(visible_controls(every))
