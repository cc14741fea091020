"""report.xlsx read back: structure, review columns, protection, types and no formula ever."""

from __future__ import annotations

import csv
import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import require_or_skip
from fixtures_render import HOSTILE_NAMES, TAKEN_AT, make_empty_run, make_run, with_history

from audit.render.base import RunData
from audit.render.xlsx import XlsxReport

SHEETS = ["Summary", "Findings", "Inventory", "Licence usage", "Exceptions", "Coverage", "Rules"]
REVIEW = ["Review status", "Owner", "Comment"]


@pytest.fixture(scope="module")
def run() -> RunData:
    return make_run()


@pytest.fixture(scope="module")
def xlsx(run: RunData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("xlsx") / "report.xlsx"
    XlsxReport().render(run, path)
    return path


@pytest.fixture(scope="module")
def book(xlsx: Path) -> Any:
    return openpyxl.load_workbook(xlsx)


def headers(sheet: Any) -> list[Any]:
    return [cell.value for cell in sheet[1]]


def test_sheets_in_order_with_frozen_filtered_headers(book: Any) -> None:
    assert book.sheetnames == SHEETS
    for name in ("Findings", "Inventory", "Exceptions", "Rules"):
        sheet = book[name]
        assert sheet.freeze_panes == "A2", name
        assert sheet.auto_filter.ref.startswith("A1:"), name
    assert headers(book["Findings"])[:4] == ["Rule", "Severity", "Status", "Service"]
    assert headers(book["Findings"])[-3:] == REVIEW
    assert "First seen" not in headers(book["Findings"])
    assert headers(book["Inventory"])[:4] == ["Service", "Datacenter", "VM id", "VM name"]


def test_findings_rows_equal_the_document(book: Any, run: RunData) -> None:
    findings = run.findings["findings"]
    rows = list(book["Findings"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(findings)
    assert [row[0] for row in rows] == [f["rule_id"] for f in findings]
    shown = [
        None if f["vm_name"] is None else f["vm_name"].replace("\x01", "\\x01") for f in findings
    ]
    assert [row[6] for row in rows] == shown
    inventory = list(book["Inventory"].iter_rows(min_row=2, values_only=True))
    vms = sum(len(dc.vms) for s in run.snapshot.services for dc in s.datacenters)
    assert len(inventory) == vms
    assert book["Findings"].auto_filter.ref == f"A1:W{len(findings) + 1}"


def test_hostile_values_stay_text_never_formulas(book: Any, xlsx: Path) -> None:
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type not in ("f", "e"), (sheet.title, cell.coordinate)
    with zipfile.ZipFile(xlsx) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name), name
    names = {row[6].value: row for row in book["Findings"].iter_rows(min_row=2)}
    assert "ctl\\x01char" in names
    for hostile in ('=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"):
        assert hostile in names, hostile
        cell = names[hostile][6]
        assert cell.data_type == "s"
        assert cell.quotePrefix, hostile  # stays text when someone edits the cell
    assert "#N/A" in names and names["#N/A"][6].data_type == "s"
    inventory = {cell.value for cell in next(book["Inventory"].iter_cols(min_col=4, max_col=4))}
    assert set(HOSTILE_NAMES) - {"ctl\x01char"} <= inventory


def test_review_columns_validated_unlocked_and_the_rest_protected(book: Any) -> None:
    sheet = book["Findings"]
    protection = sheet.protection
    assert protection.sheet is True
    assert not protection.password
    assert protection.autoFilter is False and protection.sort is False
    (validation,) = sheet.data_validations.dataValidation
    assert validation.type == "list"
    assert validation.formula1 == '"open,accepted,fixed,false positive"'
    assert str(validation.sqref) == f"U2:U{sheet.max_row}"
    for row in sheet.iter_rows(min_row=2, max_col=20):
        assert all(cell.protection.locked for cell in row)
    for column in ("U", "V", "W"):  # empty review cells take their column's style
        assert sheet.column_dimensions[column].protection.locked is False
    assert sheet.column_dimensions["T"].protection.locked is True
    rules = {str(rule.sqref) for rule in sheet.conditional_formatting}
    assert rules == {f"B2:B{sheet.max_row}"}


def test_numbers_and_dates_keep_their_types(book: Any) -> None:
    findings = list(book["Findings"].iter_rows(min_row=2, values_only=True))
    assert all(isinstance(row[5], int) for row in findings if row[5] is not None)
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row}
    assert summary["Snapshot taken (UTC)"] == datetime(2025, 11, 1, 2, 3, 4)
    expires = [row[8] for row in book["Exceptions"].iter_rows(min_row=2)]
    dated = [cell for cell in expires if cell.value is not None]
    assert dated and all(cell.is_date and "yy" in cell.number_format for cell in dated)
    inventory = list(book["Inventory"].iter_rows(min_row=2, values_only=True))
    assert all(isinstance(row[12], int) and isinstance(row[13], int) for row in inventory)


def test_coverage_and_licence_usage(book: Any) -> None:
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row}
    assert summary["Coverage"].startswith("INCOMPLETE")
    coverage = [row for row in book["Coverage"].iter_rows(values_only=True) if row and row[7]]
    assert any("VM 5002" in str(row[7]) for row in coverage)
    usage = [row[:7] for row in book["Licence usage"].iter_rows(values_only=True) if row]
    assert ("pcc-203-0-113-10", 1, 12, 7, 1, 4, 0) in usage


def test_document_properties_name_period_and_snapshot(book: Any, run: RunData) -> None:
    props = book.properties
    assert "2025-11" in props.title
    assert run.snapshot_sha256 in props.subject
    assert props.created == props.modified == datetime(2025, 11, 1, 2, 3, 4)
    custom = {prop.name: prop.value for prop in book.custom_doc_props.props}
    assert custom["snapshot_sha256"] == run.snapshot_sha256


def test_rerender_is_byte_identical(run: RunData, xlsx: Path, tmp_path: Path) -> None:
    again = tmp_path / "report.xlsx"
    XlsxReport().render(run, again)
    assert again.read_bytes() == xlsx.read_bytes()
    with zipfile.ZipFile(again) as archive:
        stamps = {info.date_time for info in archive.infolist()}
    taken = datetime.fromisoformat(TAKEN_AT.replace("Z", "+00:00"))
    assert stamps == {(taken.year, taken.month, taken.day, taken.hour, taken.minute, 4)}


def test_history_adds_columns_reviews_and_sheets(run: RunData, tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    XlsxReport().render(with_history(run), path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [*SHEETS, "Changes"]
    sheet = book["Findings"]
    header = headers(sheet)
    assert header[-5:] == ["First seen", "Change", *REVIEW]
    first = sheet[2]
    assert [cell.value for cell in first[-3:]] == ["accepted", "=Jane", "ticket <CHG-1>"]
    assert not any(cell.protection.locked for cell in first[-3:])
    assert first[-2].quotePrefix and first[-2].data_type == "s"
    assert first[-5].value == datetime(2025, 11, 1) and first[-5].is_date
    assert first[-4].value == "new"
    summary = [row for row in book["Summary"].iter_rows(values_only=True) if row and row[0]]
    assert ("2025-10", 6, 5, 3, 1, 15) in [tuple(row[:6]) for row in summary]
    assert ("gone: unverified", 1) in [tuple(row[:2]) for row in summary]
    open_now = sum(run.findings["summary"]["open_by_severity"].values())
    assert ("total", 12, f"{open_now - 12:+,}") in [
        (row[0], row[3], row[4]) for row in summary if row[0] == "total"
    ]
    changes = list(book["Changes"].iter_rows(min_row=2))
    kinds = [row[0].value for row in changes]
    new = sum(1 for f in with_history(run).findings["findings"] if f["change"] == "new")
    assert kinds == ["new"] * new + ["gone: fixed", "gone: unverified", "licence set", "vm removed"]
    assert changes[-1][6].value == "@rm -rf" and changes[-1][6].quotePrefix
    assert changes[-2][9].value == "windows 2019 Standard Core"  # after
    assert book["Summary"]._charts  # the trend, as a native chart


def test_libreoffice_reads_every_sheet_as_written(xlsx: Path, tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        require_or_skip("LibreOffice missing: apt-get install libreoffice-calc-nogui")
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            # UTF-8, one CSV per sheet (-1): proves every sheet loads, formulas would evaluate.
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
            "--outdir",
            str(tmp_path),
            str(xlsx),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    for sheet in SHEETS:
        assert (tmp_path / f"report-{sheet}.csv").is_file(), sheet
    with (tmp_path / "report-Findings.csv").open(encoding="utf-8", newline="") as handle:
        names = {row[6] for row in csv.reader(handle)}
    assert '=HYPERLINK("http://x","y")' in names
    assert {"@SUM(1+1)", "-2+3", "#N/A", "<script>alert(1)</script>"} <= names


def test_an_empty_account_still_gives_every_sheet(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    XlsxReport().render(make_empty_run(), path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == SHEETS
    assert book["Findings"].max_row == 1
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row}
    assert summary["Coverage"] == "complete"
