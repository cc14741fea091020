"""Reading the auditors' review back from a report.xlsx they edited (`import-review`).

The Findings sheet is found by name and its columns by header, so a workbook whose columns
were moved or hidden still imports. A finding's fingerprint is rebuilt from its Service,
Datacenter, VM id and Rule cells (the names audit/model/workbook.py gives them). The sheet is
not protected (Excel would not sort it), so nothing stops an edit of those cells: the workbook
must name its period (a document property the job sets), every row must be a finding of that
period's stored run (`check_run`), and two rows for one finding must not disagree. The
workbook is the whole truth for the findings it lists: a review cleared in it is cleared in
the history too.

Anything that is not such a workbook, or that is damaged, is an InputError naming the sheet
and the cell (exit 2).
"""

from __future__ import annotations

import zipfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from audit.evaluate.rules.registry import RULE_IDS
from audit.model.identity import fingerprint
from audit.model.workbook import (
    COMMENT,
    DATACENTER,
    FINDINGS_SHEET,
    IDENTITY_HEADERS,
    OWNER,
    PERIOD_PROPERTY,
    REVIEW_HEADERS,
    REVIEW_STATUS,
    REVIEW_STATUSES,
    RULE,
    SERVICE,
    VM_ID,
)
from audit.support.errors import InputError


@dataclass(frozen=True)
class ReviewRow:
    """One finding row of the sheet; all three values None means "no review"."""

    fingerprint: str
    status: str | None
    owner: str | None
    comment: str | None
    row: int = 0  # the sheet's row number, for error messages

    @property
    def review(self) -> tuple[str | None, str | None, str | None]:
        return (self.status, self.owner, self.comment)

    @property
    def empty(self) -> bool:
        return self.status is None and self.owner is None and self.comment is None


@dataclass(frozen=True)
class ReviewSheet:
    """What a workbook says: its period (a document property) and its rows, in sheet order.

    One row per finding: rows repeating a finding with the same review are dropped.
    `identity_columns` are the letters of the Service, Datacenter, VM id and Rule columns.
    """

    period: str
    rows: tuple[ReviewRow, ...]
    identity_columns: tuple[str, ...] = ()

    def identity_cells(self, row: int) -> str:
        return ", ".join(f"{letter}{row}" for letter in self.identity_columns)


def check_run(path: Path, sheet: ReviewSheet, fingerprints: Collection[str] | None) -> None:
    """Every row must be a finding of the workbook's run: `fingerprints` are that run's
    (None: the history has no run for the period). An edited identity cell stops here."""
    if fingerprints is None:
        raise InputError(
            f"{path}: no run for period {sheet.period} in the history; name the history the "
            "workbook's run was recorded in with --history"
        )
    for row in sheet.rows:
        if row.fingerprint not in fingerprints:
            raise InputError(
                f"{path}: sheet '{FINDINGS_SHEET}', row {row.row} (cells "
                f"{sheet.identity_cells(row.row)}): {row.fingerprint} is not a finding of the "
                f"{sheet.period} run; the Service, Datacenter, VM id and Rule cells must stay "
                "as the job wrote them"
            )


def read_review_workbook(path: Path) -> ReviewSheet:
    """Read and validate the Findings sheet's review columns."""
    if not path.is_file():
        raise InputError(f"{path}: no such workbook")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not an Excel workbook (.xlsx): not a zip archive")
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types for a damaged file
        raise InputError(f"{path}: damaged Excel workbook: {_reason(exc)}") from None
    try:
        if FINDINGS_SHEET not in workbook.sheetnames:
            raise InputError(
                f"{path}: no sheet '{FINDINGS_SHEET}': not a report.xlsx written by "
                "ovh-license-audit"
            )
        sheet = workbook[FINDINGS_SHEET]
        sheet.reset_dimensions()
        try:
            rows = list(sheet.iter_rows(values_only=True))
        except Exception as exc:  # damaged sheet XML surfaces only while reading rows
            raise InputError(
                f"{path}: sheet '{FINDINGS_SHEET}' is damaged: {_reason(exc)}"
            ) from None
        period = _period(path, workbook)
        parsed, identity_columns = _parse_rows(path, rows)
        return ReviewSheet(period, tuple(parsed), identity_columns)
    finally:
        workbook.close()


def _reason(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _period(path: Path, workbook: Any) -> str:
    """The `period` custom property the job sets: which run the rows are findings of."""
    for prop in getattr(workbook, "custom_doc_props", None) or ():
        value = getattr(prop, "value", None)
        name = getattr(prop, "name", None)
        if name == PERIOD_PROPERTY and isinstance(value, str) and value.strip():
            return value.strip()
    raise InputError(
        f"{path}: no 'period' document property (File > Properties > Custom), so the run it "
        "reviews is unknown; import the workbook as the job wrote it, saved by Excel or "
        "LibreOffice (some editors drop document properties)"
    )


def _parse_rows(
    path: Path, rows: Sequence[tuple[Any, ...]]
) -> tuple[list[ReviewRow], tuple[str, ...]]:
    where = f"{path}: sheet '{FINDINGS_SHEET}'"
    if not rows:
        raise InputError(f"{where}, cell A1: empty sheet, no header row")
    header = [_text(value) for value in rows[0]]
    columns: dict[str, int] = {}
    for name in (*IDENTITY_HEADERS, *REVIEW_HEADERS):
        if name not in header:
            last = get_column_letter(max(len(header), 1))
            raise InputError(f"{where}, cells A1:{last}1: no '{name}' column header")
        columns[name] = header.index(name)
    parsed: dict[str, ReviewRow] = {}
    for number, row in enumerate(rows[1:], start=2):
        cells = {name: row[index] if index < len(row) else None for name, index in columns.items()}
        if all(_text(value) is None for value in cells.values()):
            continue

        def cell(name: str, number: int = number) -> str:
            return f"{where}, cell {get_column_letter(columns[name] + 1)}{number}"

        service = _text(cells[SERVICE])
        rule = _text(cells[RULE])
        if service is None or rule is None:
            missing = SERVICE if service is None else RULE
            raise InputError(f"{cell(missing)}: empty, so the row names no finding")
        if rule not in RULE_IDS:
            raise InputError(f"{cell(RULE)}: {rule!r} is not a rule of ovh-license-audit")
        datacenter = _identifier(cells[DATACENTER], cell(DATACENTER))
        vm_id = _identifier(cells[VM_ID], cell(VM_ID))
        review = ReviewRow(
            fingerprint=fingerprint(service, datacenter, vm_id, rule),
            status=_status(cells[REVIEW_STATUS], cell(REVIEW_STATUS)),
            owner=_text(cells[OWNER]),
            comment=_text(cells[COMMENT]),
            row=number,
        )
        first = parsed.setdefault(review.fingerprint, review)
        if first.review != review.review:
            differs = next(
                name
                for name, a, b in zip(REVIEW_HEADERS, first.review, review.review, strict=True)
                if a != b
            )
            raise InputError(
                f"{cell(differs)}: the same finding as row {first.row} (same Service, "
                "Datacenter, VM id and Rule) with a different review; keep one row per finding"
            )
    letters = tuple(get_column_letter(columns[name] + 1) for name in IDENTITY_HEADERS)
    return list(parsed.values()), letters


def _text(value: Any) -> str | None:
    """A cell as trimmed text; empty is None. Whole numbers lose Excel's `.0`."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    stripped = str(value).strip()
    return stripped or None


def _identifier(value: Any, cell: str) -> int | None:
    """A Datacenter or VM id cell: a whole number, or empty (a finding with no VM id)."""
    if isinstance(value, bool):
        raise InputError(f"{cell}: {value!r} is not an id")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise InputError(f"{cell}: {value!r} is not an id")


def _status(value: Any, cell: str) -> str | None:
    """A drop-down value (any case); anything else names the cell and the allowed values."""
    text = _text(value)
    if text is None:
        return None
    for status in REVIEW_STATUSES:
        if text.casefold() == status.casefold():
            return status
    raise InputError(f"{cell}: review status {text!r} is not one of: {', '.join(REVIEW_STATUSES)}")
