"""import-review checks each row's identity against the run the workbook came from.

The identity cells are protected, but protection is a hint: an edited VM id or rule, two rows
for one finding with different reviews, or a workbook whose properties were stripped must be
an input error naming the sheet and cell, never a review stored for a finding no run had.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from audit.cli.main import main
from audit.history.store import HISTORY_FILE
from tests.helpers.history import PROD, WIN, WIN_CLIENT
from tests.helpers.history import run_month as job
from tests.helpers.review import columns, edit, row_of
from tests.helpers.vms import api_vm

JAN = "2026-01"
FLEET = {(PROD, 1): [api_vm(1, WIN, None), api_vm(2, WIN_CLIENT, None), api_vm(3, WIN, None)]}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("identity") / "out"
    job(out, JAN, FLEET)
    return out / JAN / "report.xlsx"


def history_of(report: Path, tmp_path: Path) -> Path:
    """A copy of the run's history for one test: an import that wrongly succeeds stays local."""
    copy = tmp_path / HISTORY_FILE
    copy.write_bytes((report.parent.parent / HISTORY_FILE).read_bytes())
    return copy


def changed(report: Path, target: Path, change: Any) -> Path:
    """A reviewed copy of the workbook, then `change(workbook, Findings sheet, header)`."""
    reviewed = edit(report, target, {(1, "WIN-UNLICENSED"): ("accepted", "ops", "ordered")})
    workbook = load_workbook(reviewed)
    change(workbook, workbook["Findings"], columns(workbook["Findings"]))
    workbook.save(target)
    return target


def imported(path: Path, history: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    before = history.read_bytes()
    code = main(["import-review", str(path), "--history", str(history)])
    error = capsys.readouterr().err.strip()
    if code == 2:
        assert history.read_bytes() == before, "a refused workbook changed the history"
        assert len(error.splitlines()) == 1 and f": error: {path}: " in error
    return code, error


def cell(header: dict[str, int], name: str, row: int) -> str:
    return f"{get_column_letter(header[name])}{row}"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("column", "value"),
    [("VM id", 999), ("Rule", "LIC-LEGACY"), ("Datacenter", 7), ("Service", "pcc-other")],
)
def test_an_edited_identity_names_the_row_and_stores_nothing(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], column: str, value: Any
) -> None:
    row = row_of(load_workbook(report)["Findings"], 1, "WIN-UNLICENSED")

    def retype(workbook: Any, sheet: Any, header: dict[str, int]) -> None:
        sheet.cell(row, header[column]).value = value

    path = changed(report, tmp_path / "edited.xlsx", retype)
    code, error = imported(path, history_of(report, tmp_path), capsys)
    assert code == 2
    header = columns(load_workbook(path)["Findings"])
    assert f"sheet 'Findings', row {row} (cells " in error
    assert cell(header, column, row) in error
    assert f"not a finding of the {JAN} run" in error


def test_an_edited_identity_without_a_review_is_refused_too(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row = row_of(load_workbook(report)["Findings"], 3, "WIN-UNLICENSED")

    def retype(workbook: Any, sheet: Any, header: dict[str, int]) -> None:
        sheet.cell(row, header["VM id"]).value = 4

    code, error = imported(
        changed(report, tmp_path / "e.xlsx", retype), history_of(report, tmp_path), capsys
    )
    assert code == 2 and f"row {row}" in error


def test_two_rows_for_one_finding_with_different_reviews(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = row_of(load_workbook(report)["Findings"], 1, "WIN-UNLICENSED")
    other = row_of(load_workbook(report)["Findings"], 3, "WIN-UNLICENSED")

    def duplicate(workbook: Any, sheet: Any, header: dict[str, int]) -> None:
        sheet.cell(other, header["VM id"]).value = 1
        sheet.cell(other, header["Review status"]).value = "fixed"

    path = changed(report, tmp_path / "dup.xlsx", duplicate)
    code, error = imported(path, history_of(report, tmp_path), capsys)
    assert code == 2
    header = columns(load_workbook(path)["Findings"])
    assert f"sheet 'Findings', cell {cell(header, 'Review status', other)}" in error
    assert f"row {first}" in error and "different review" in error


def test_two_rows_for_one_finding_with_the_same_review_are_one_review(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = row_of(load_workbook(report)["Findings"], 3, "WIN-UNLICENSED")

    def duplicate(workbook: Any, sheet: Any, header: dict[str, int]) -> None:
        for name in ("Service", "Datacenter", "VM id", "Rule"):
            sheet.cell(other, header[name]).value = sheet.cell(
                row_of(sheet, 1, "WIN-UNLICENSED"), header[name]
            ).value
        for name, value in zip(
            ("Review status", "Owner", "Comment"), ("accepted", "ops", "ordered"), strict=True
        ):
            sheet.cell(other, header[name]).value = value

    history = history_of(report, tmp_path)
    path = changed(report, tmp_path / "same.xlsx", duplicate)
    code, _ = imported(path, history, capsys)
    assert code == 0


def strip_properties(workbook: Any, sheet: Any, header: dict[str, int]) -> None:
    workbook.custom_doc_props.props.clear()


def other_period(workbook: Any, sheet: Any, header: dict[str, int]) -> None:
    for prop in workbook.custom_doc_props.props:
        if prop.name == "period":
            prop.value = "2025-12"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (strip_properties, "no 'period' document property"),
        (other_period, "no run for period 2025-12"),
    ],
)
def test_the_period_property_must_name_a_stored_run(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Any, message: str
) -> None:
    path = changed(report, tmp_path / "p.xlsx", change)
    code, error = imported(path, history_of(report, tmp_path), capsys)
    assert code == 2
    assert message in error


def test_a_clean_review_is_still_stored(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = history_of(report, tmp_path)
    path = changed(report, tmp_path / "ok.xlsx", lambda *_: None)
    assert main(["import-review", str(path), "--history", str(history)]) == 0
    assert "1 review(s) stored" in capsys.readouterr().out
