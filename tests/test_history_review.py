"""import-review: an auditor's workbook back into the history, and into next month's reports."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from openpyxl import Workbook, load_workbook

from audit.cli.main import main
from audit.history.review import read_review_workbook
from audit.history.store import HISTORY_FILE
from audit.support.errors import InputError
from tests.helpers.history import PROD, WIN, WIN_CLIENT
from tests.helpers.history import run_month as job
from tests.helpers.review import columns, edit, review_cells, row_of
from tests.helpers.vms import api_vm

JAN, FEB = "2026-01", "2026-02"
FLEET = {
    (PROD, 1): [
        api_vm(1, WIN, None, name="sql-01"),
        api_vm(2, WIN_CLIENT, None, name="desk-02"),
        api_vm(3, WIN, None, name="app-03"),
    ]
}


@pytest.mark.slow
def test_review_is_carried_into_next_months_workbook_and_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    job(out, JAN, FLEET)
    edited = edit(
        out / JAN / "report.xlsx",
        tmp_path / "mail" / "audit-january.xlsx",
        {
            (1, "WIN-UNLICENSED"): ("Accepted", "@jane.doe", "Licence ordered, CHG-42"),
            (2, "WIN-CLIENT-OS"): ("false positive", None, "VDI covered by <EA>"),
        },
    )
    history = out / HISTORY_FILE
    assert main(["import-review", str(edited), "--history", str(history), "--by", "j.doe"]) == 0
    assert "2 review(s) stored" in capsys.readouterr().out

    job(out, FEB, FLEET)
    workbook = out / FEB / "report.xlsx"
    assert review_cells(workbook, 1, "WIN-UNLICENSED") == (
        "accepted",
        "@jane.doe",  # text, never a formula
        "Licence ordered, CHG-42",
    )
    assert review_cells(workbook, 2, "WIN-CLIENT-OS") == (
        "false positive",
        None,
        "VDI covered by <EA>",
    )
    assert review_cells(workbook, 3, "WIN-UNLICENSED") == (None, None, None)
    page = lxml.html.fromstring((out / FEB / "report.html").read_bytes())
    rows = {  # each finding's row in the HTML, by VM name
        row.find_class("vm-name")[0].text_content(): row.text_content()
        for row in page.xpath("//tr[.//*[contains(@class, 'vm-name')]]")
    }
    assert all(v in rows["sql-01"] for v in ("accepted", "@jane.doe", "Licence ordered, CHG-42"))
    assert all(v in rows["desk-02"] for v in ("false positive", "VDI covered by <EA>"))
    assert not any(v in rows["app-03"] for v in ("accepted", "jane", "false positive"))

    # February's workbook, edited in turn: one review cleared, one unchanged, one new.
    second = edit(
        workbook,
        tmp_path / "mail" / "audit-february.xlsx",
        {
            (2, "WIN-CLIENT-OS"): (None, None, None),
            (3, "WIN-UNLICENSED"): ("open", "ops", None),
        },
    )
    # Default history: the folder above the workbook's, for a workbook left in its run folder.
    shutil.copy(second, out / FEB / "edited.xlsx")
    assert main(["import-review", str(out / FEB / "edited.xlsx")]) == 0
    assert "1 review(s) stored, 1 cleared, 1 unchanged" in capsys.readouterr().out
    job(out, "2026-03", FLEET)
    march = out / "2026-03" / "report.xlsx"
    assert review_cells(march, 1, "WIN-UNLICENSED")[0] == "accepted"
    assert review_cells(march, 2, "WIN-CLIENT-OS") == (None, None, None)
    assert review_cells(march, 3, "WIN-UNLICENSED") == ("open", "ops", None)
    # The February reports still rebuild as they were sent.
    before = (out / FEB / "report.xlsx").read_bytes()
    assert main(["report", str(out / FEB)]) == 0
    assert (out / FEB / "report.xlsx").read_bytes() == before


def test_a_shortfall_is_listed_in_later_periods_until_reviewed_settled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """VMs 1 and 3 run unlicensed in January (the snapshot's day is January's one observed
    day) and are billed nothing: January's shortfalls. A `settled` review of January's
    workbook settles January's only; a new shortfall of the same VM starts unreviewed."""
    out = tmp_path / "out"
    january = job(out, JAN, FLEET).report
    assert [item.vm_id for item in january.shortfalls] == [1, 3]
    history = out / HISTORY_FILE
    settled = edit(
        out / JAN / "report.xlsx",
        tmp_path / "january.xlsx",
        {
            (1, "WIN-UNLICENSED"): ("Settled", "@finance", "Declared to OVHcloud, INV-7"),
            (3, "WIN-UNLICENSED"): ("accepted", "ops", None),
        },
    )
    assert main(["import-review", str(settled), "--history", str(history)]) == 0
    capsys.readouterr()

    february = job(out, FEB, FLEET).report
    [open_one] = february.unsettled_shortfalls
    assert (open_one.period, open_one.shortfall.vm_id) == (JAN, 3)
    assert (open_one.review_status, open_one.owner) == ("accepted", "ops")
    assert open_one.shortfall.vm_name == "app-03" and open_one.shortfall.days_unlicensed == 1
    # VM 1 runs unbilled in February too: January's `settled` is not carried to it.
    assert review_cells(out / FEB / "report.xlsx", 1, "WIN-UNLICENSED") == (
        None,
        "@finance",
        "Declared to OVHcloud, INV-7",
    )
    assert review_cells(out / FEB / "report.xlsx", 3, "WIN-UNLICENSED")[0] == "accepted"
    march = job(out, "2026-03", FLEET).report.to_json()
    assert [(item["period"], item["vm_id"]) for item in march["unsettled_shortfalls"]] == [
        (JAN, 3),
        (FEB, 1),
        (FEB, 3),
    ]

    # Clearing January's review in its workbook unsettles it again: the workbook's empty
    # cells are as the run wrote them, so clearing a review stored since needs --replace.
    cleared = edit(
        out / JAN / "report.xlsx", tmp_path / "again.xlsx", {(1, "WIN-UNLICENSED"): (None,) * 3}
    )
    assert main(["import-review", str(cleared), "--history", str(history), "--replace"]) == 0
    april = job(out, "2026-04", FLEET).report
    assert (JAN, 1) in {(item.period, item.shortfall.vm_id) for item in april.unsettled_shortfalls}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("review") / "out"
    job(out, JAN, FLEET)
    return out / JAN / "report.xlsx"


def damaged(report: Path, target: Path, how: str) -> Path:
    if how == "text":
        target.write_text("service,vm\npcc,1\n")
    elif how == "truncated":
        target.write_bytes(report.read_bytes()[:2000])
    elif how == "zip-not-xlsx":
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("hello.txt", "hi")
    elif how == "bad-xml":
        with zipfile.ZipFile(report) as source, zipfile.ZipFile(target, "w") as archive:
            for item in source.infolist():
                data = source.read(item)
                if item.filename == "xl/worksheets/sheet2.xml":
                    data = data[: len(data) // 2]
                archive.writestr(item, data)
    elif how == "other-workbook":
        workbook = Workbook()
        workbook.active.title = "Budget"
        workbook.save(target)
    return target


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("text", "not a zip archive"),
        ("truncated", "not a zip archive"),
        ("zip-not-xlsx", "damaged Excel workbook"),
        ("bad-xml", "damaged"),
        ("other-workbook", "no sheet 'Findings'"),
    ],
)
def test_damaged_or_foreign_workbooks_exit_2(
    report: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    how: str,
    message: str,
) -> None:
    history = report.parent.parent / HISTORY_FILE
    path = damaged(report, tmp_path / f"{how}.xlsx", how)
    assert main(["import-review", str(path), "--history", str(history)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert message in error and str(path) in error


@pytest.mark.slow
def test_bad_cells_are_named(report: Path, tmp_path: Path) -> None:
    bad_status = edit(report, tmp_path / "status.xlsx", {(1, "WIN-UNLICENSED"): ("maybe", 1, 2)})
    header = columns(load_workbook(bad_status)["Findings"])
    row = row_of(load_workbook(bad_status)["Findings"], 1, "WIN-UNLICENSED")
    letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[header["Review status"] - 1]
    with pytest.raises(InputError, match=rf"sheet 'Findings', cell {letter}{row}: .*'maybe'"):
        read_review_workbook(bad_status)

    workbook = load_workbook(report)
    sheet = workbook["Findings"]
    sheet.cell(2, columns(sheet)["VM id"]).value = "vm-one"
    workbook.save(tmp_path / "id.xlsx")
    with pytest.raises(InputError, match=r"cell B2: 'vm-one' is not an id"):
        read_review_workbook(tmp_path / "id.xlsx")

    workbook = load_workbook(report)
    sheet = workbook["Findings"]
    rule = columns(sheet)["Rule"]
    sheet.cell(3, rule).value = "Budget line"  # a sheet someone else made, or retyped
    workbook.save(tmp_path / "rule.xlsx")
    letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rule - 1]
    with pytest.raises(InputError, match=rf"cell {letter}3: 'Budget line' is not a rule"):
        read_review_workbook(tmp_path / "rule.xlsx")

    workbook = load_workbook(report)
    sheet = workbook["Findings"]
    sheet.cell(1, columns(sheet)["Owner"]).value = "Who"
    workbook.save(tmp_path / "header.xlsx")
    with pytest.raises(InputError, match=r"sheet 'Findings', cells A1:\w+1: no 'Owner' column"):
        read_review_workbook(tmp_path / "header.xlsx")


def test_a_bad_workbook_changes_nothing(report: Path, tmp_path: Path) -> None:
    history = report.parent.parent / HISTORY_FILE
    before = history.read_bytes()
    bad = edit(
        report,
        tmp_path / "half.xlsx",
        {(1, "WIN-UNLICENSED"): ("accepted", "a", "b"), (3, "WIN-UNLICENSED"): ("nope", "", "")},
    )
    assert main(["import-review", str(bad), "--history", str(history)]) == 2
    assert history.read_bytes() == before


def test_history_file_must_exist(report: Path, tmp_path: Path) -> None:
    copy = shutil.copy(report, tmp_path / "report.xlsx")
    assert main(["import-review", str(copy)]) == 2
    assert main(["import-review", str(copy), "--history", str(tmp_path / "x.sqlite")]) == 2
    assert not (tmp_path / "x.sqlite").exists()


def import_error(path: Path, report: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """`import-review` of `path` into `report`'s history: exit 2, one line, history unchanged."""
    history = report.parent.parent / HISTORY_FILE
    before = history.read_bytes()
    assert main(["import-review", str(path), "--history", str(history)]) == 2
    error = capsys.readouterr().err
    assert len(error.splitlines()) == 1, error
    assert history.read_bytes() == before
    return error


def test_a_superscript_digit_in_an_id_cell_is_not_an_id(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workbook = load_workbook(report)
    sheet = workbook["Findings"]
    sheet.cell(2, columns(sheet)["Datacenter"]).value = "\u00b2"  # str.isdigit() says yes
    workbook.save(tmp_path / "superscript.xlsx")
    error = import_error(tmp_path / "superscript.xlsx", report, capsys)
    assert "'\u00b2' is not an id" in error


def test_a_formula_with_no_cached_value_is_an_input_error_not_a_cleared_review(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """openpyxl (like other programs that do not calculate) saves formulas without a value."""
    workbook = load_workbook(report)
    sheet = workbook["Findings"]
    header = columns(sheet)
    row = row_of(sheet, 1, "WIN-UNLICENSED")
    sheet.cell(row, header["Review status"]).value = '=IF(TRUE,"accepted","open")'
    workbook.save(tmp_path / "formula.xlsx")
    error = import_error(tmp_path / "formula.xlsx", report, capsys)
    letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[header["Review status"] - 1]
    assert f"cell {letter}{row}: a formula whose value was never calculated" in error


def with_cached_value(source: Path, target: Path, cell: str, formula: str, value: str) -> Path:
    """`source` with `cell` of the Findings sheet a formula whose cached result is `value`,
    as Excel saves it (openpyxl cannot write a cached value)."""
    workbook = load_workbook(source)
    workbook["Findings"][cell].value = "=PLACEHOLDER()"
    workbook.save(target)
    with zipfile.ZipFile(target) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    computed = f"<f>{formula}</f><v>{value}</v>".encode()
    for name, data in parts.items():
        if name.startswith("xl/worksheets/") and b"PLACEHOLDER" in data:
            element = re.compile(rb'(<c r="' + cell.encode() + rb'"[^>]*?)>.*?</c>')
            parts[name] = element.sub(
                lambda m: m.group(1) + b' t="str">' + computed + b"</c>", data
            )
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return target


def test_a_formula_counts_with_the_value_excel_computed(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = load_workbook(report)["Findings"]
    header = columns(sheet)
    row = row_of(sheet, 1, "WIN-UNLICENSED")
    letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[header["Review status"] - 1]
    edited = with_cached_value(
        report,
        tmp_path / "computed.xlsx",
        f"{letter}{row}",
        'IF(TRUE,"accepted","open")',
        "accepted",
    )
    sheet_read = read_review_workbook(edited)
    [reviewed] = [r for r in sheet_read.rows if r.row == row]
    assert reviewed.status == "accepted"


def test_a_cell_in_the_last_column_is_not_read_as_16384_columns(
    report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A far-away cell on every row (column XFD) must not pad each row to 16,384 values."""
    workbook = load_workbook(report)
    sheet = workbook["Findings"]
    for row in range(1, sheet.max_row + 1):
        sheet.cell(row, 16384).value = "x"
    workbook.save(tmp_path / "xfd.xlsx")
    widths: list[int] = []
    import openpyxl.worksheet._read_only as read_only

    get_row = read_only.ReadOnlyWorksheet._get_row

    def measured(self: Any, *args: Any, **kwargs: Any) -> Any:
        row = get_row(self, *args, **kwargs)
        widths.append(len(row))
        return row

    monkeypatch.setattr(read_only.ReadOnlyWorksheet, "_get_row", measured)
    parsed = read_review_workbook(tmp_path / "xfd.xlsx")
    assert len(parsed.rows) == len(read_review_workbook(report).rows)
    assert widths and max(widths) <= 100


def test_a_later_months_workbook_settles_an_earlier_periods_shortfall(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Unsettled shortfalls sheet of February's workbook lists January's shortfalls with
    the review columns: `settled` there, imported, settles January's from March on; a row
    naming no stored shortfall is a one-line error and nothing is stored."""
    out = tmp_path / "out"
    job(out, JAN, FLEET)
    job(out, FEB, FLEET)
    workbook = out / FEB / "report.xlsx"
    book = load_workbook(workbook)
    sheet = book["Unsettled shortfalls"]
    header = columns(sheet)
    rows = {
        sheet.cell(row, header["VM id"]).value: row
        for row in range(2, sheet.max_row + 1)
        if sheet.cell(row, header["Period"]).value == JAN
    }
    assert set(rows) == {1, 3}
    sheet.cell(rows[1], header["Review status"]).value = "Settled"
    sheet.cell(rows[1], header["Owner"]).value = "@finance"
    sheet.cell(rows[1], header["Comment"]).value = "Declared, INV-9"
    edited = tmp_path / "february.xlsx"
    book.save(edited)
    history = out / HISTORY_FILE
    assert main(["import-review", str(edited), "--history", str(history)]) == 0
    assert "1 review(s) of earlier periods' shortfalls stored" in capsys.readouterr().out
    march = job(out, "2026-03", FLEET).report
    listed = {(item.period, item.shortfall.vm_id) for item in march.unsettled_shortfalls}
    assert (JAN, 1) not in listed and (JAN, 3) in listed

    # An edited identity cell names no stored shortfall: refused, nothing stored.
    sheet.cell(rows[3], header["VM id"]).value = 99
    sheet.cell(rows[3], header["Review status"]).value = "settled"
    book.save(edited)
    assert main(["import-review", str(edited), "--history", str(history)]) == 2
    error = capsys.readouterr().err
    assert re.search(r"sheet 'Unsettled shortfalls', row \d+: no shortfall of period", error)
    april = job(out, "2026-04", FLEET).report
    assert (JAN, 3) in {(item.period, item.shortfall.vm_id) for item in april.unsettled_shortfalls}
