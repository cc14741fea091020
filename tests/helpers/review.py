"""What an auditor does to report.xlsx in Excel, for the import-review tests: find a finding's
row by its VM id and rule, fill its review columns, save a copy (the headers are the
workbook's own, audit/model/workbook.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from audit.model.workbook import FINDINGS_SHEET, REVIEW_HEADERS, RULE, VM_ID


def columns(sheet: Any) -> dict[str, int]:
    return {cell.value: cell.column for cell in sheet[1]}


def row_of(sheet: Any, vm_id: int, rule: str) -> int:
    header = columns(sheet)
    for row in range(2, sheet.max_row + 1):
        if (
            sheet.cell(row, header[VM_ID]).value == vm_id
            and sheet.cell(row, header[RULE]).value == rule
        ):
            return row
    raise AssertionError(f"no row for VM {vm_id} {rule}")


def edit(source: Path, target: Path, reviews: dict[tuple[int, str], tuple[Any, Any, Any]]) -> Path:
    """Fill the review columns of some rows, save a copy."""
    workbook = load_workbook(source)
    sheet = workbook[FINDINGS_SHEET]
    header = columns(sheet)
    for (vm_id, rule), values in reviews.items():
        row = row_of(sheet, vm_id, rule)
        for name, value in zip(REVIEW_HEADERS, values, strict=True):
            sheet.cell(row, header[name]).value = value
    target.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(target)
    return target


def review_cells(path: Path, vm_id: int, rule: str) -> tuple[Any, Any, Any]:
    sheet = load_workbook(path)[FINDINGS_SHEET]
    header = columns(sheet)
    row = row_of(sheet, vm_id, rule)
    return tuple(sheet.cell(row, header[name]).value for name in REVIEW_HEADERS)
