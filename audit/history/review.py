"""Reading the auditors' review back from a report.xlsx they edited (`import-review`).

The Findings sheet is found by name and its columns by header, so a workbook whose columns
were moved or hidden still imports. A finding's fingerprint is rebuilt from its Service,
Datacenter, VM id and Rule cells (the names audit/model/workbook.py gives them). The sheet is
not protected (Excel would not sort it), so nothing stops an edit of those cells: the workbook
must name its period (a document property the job sets), every row must be a finding of that
period's stored run (`check_run`), and two rows for one finding must not disagree.

Several reviewers edit copies of one workbook, so a row is merged three ways (`merge_reviews`):
against the review the run's reports were given (what the row showed when the job wrote it) and
the review stored now. A row left as it was written says nothing, so it never clears or
replaces a review stored since; a row changed where someone else's review also changed since
the run is a conflict, unless the importer replaces. Only with `replace` is the workbook the
whole truth for the findings it lists.

Anything that is not such a workbook, or that is damaged, is an InputError naming the sheet
and the cell (exit 2).
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from audit.evaluate.rules import win_unlicensed
from audit.evaluate.rules.registry import RULE_IDS
from audit.model.history import CarriedReview, Review
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
    SHORTFALL_HEADERS,
    SHORTFALLS_SHEET,
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
class ShortfallReviewRow:
    """A reviewed row of the Unsettled shortfalls sheet: an earlier period's shortfall, known
    by its period and its WIN-UNLICENSED finding's fingerprint (the shortfall_review key)."""

    period: str
    review: ReviewRow


@dataclass(frozen=True)
class ReviewSheet:
    """What a workbook says: its period (a document property) and its rows, in sheet order.

    One row per finding: rows repeating a finding with the same review are dropped.
    `identity_columns` are the letters of the Service, Datacenter, VM id and Rule columns.
    """

    period: str
    rows: tuple[ReviewRow, ...]
    identity_columns: tuple[str, ...] = ()
    snapshot_sha256: str | None = None  # the run's, from the document properties
    shortfalls: tuple[ShortfallReviewRow, ...] = ()  # the Unsettled shortfalls sheet's reviews

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


# The Findings sheet has about thirty columns and one row per finding; people add a few
# columns of their own. Nothing beyond these bounds is read: a cell in column XFD would
# otherwise pad every row to 16,384 values (gigabytes from a workbook of a few hundred kB).
MAX_COLUMNS = 100
MAX_ROWS = 1_048_576  # Excel's own limit


@dataclass(frozen=True)
class _Uncached:
    """A formula cell whose result was never computed (no cached value in the file)."""


UNCACHED = _Uncached()


NO_REVIEW: tuple[str | None, str | None, str | None] = (None, None, None)


@dataclass(frozen=True)
class ReviewMerge:
    """What importing a sheet would do (`merge_reviews`).

    `sheet` holds the rows to store as they are; `kept` the rows left as the run wrote them
    whose finding was reviewed since (the stored review stays); `overridden` the other
    reviewers' reviews that `sheet` clears (or, with replace, replaces after they changed);
    `conflicts` the rows changed here and, by another reviewer, since the run (row, stored).
    """

    sheet: ReviewSheet
    kept: tuple[ReviewRow, ...] = ()
    overridden: tuple[tuple[ReviewRow, Review], ...] = ()
    conflicts: tuple[tuple[ReviewRow, Review], ...] = ()


def merge_reviews(
    sheet: ReviewSheet,
    given: Mapping[str, CarriedReview] | None,
    stored: Mapping[str, Review],
    reviewer: str,
    replace_all: bool = False,
) -> ReviewMerge:
    """Merge a sheet three ways: `given` is what the run's reports showed (None when unknown:
    the workbook is of another run of its period, so every stored review counts as later),
    `stored` the reviews now, `reviewer` who imports. A reviewer may change their own later
    review; `replace_all` makes the sheet the whole truth for its rows."""
    given = given or {}
    apply: list[ReviewRow] = []
    kept: list[ReviewRow] = []
    overridden: list[tuple[ReviewRow, Review]] = []
    conflicts: list[tuple[ReviewRow, Review]] = []
    for row in sheet.rows:
        now = stored.get(row.fingerprint)
        now_review = NO_REVIEW if now is None else (now.status, now.owner, now.comment)
        was = given.get(row.fingerprint)
        was_review = NO_REVIEW if was is None else (was.status, was.owner, was.comment)
        if row.review == now_review:
            apply.append(row)
            continue
        changed_since = now_review != was_review
        if not replace_all and row.review == was_review:
            kept.append(row)  # as the run wrote it: this workbook says nothing of it
            continue
        other = now is not None and now.imported_by != reviewer
        if now is not None and other and changed_since and not replace_all:
            conflicts.append((row, now))
            continue
        apply.append(row)
        if now is not None and other and (row.empty or changed_since):
            overridden.append((row, now))
    return ReviewMerge(
        replace(sheet, rows=tuple(apply)), tuple(kept), tuple(overridden), tuple(conflicts)
    )


def describe(review: tuple[str | None, str | None, str | None]) -> str:
    """A review in one line: its non-empty values, quoted, a long comment shortened."""
    if review == NO_REVIEW:
        return "no review"
    parts = []
    for name, value in zip(("status", "owner", "comment"), review, strict=True):
        if value is not None:
            shown = value if len(value) <= 40 else value[:39] + "\u2026"
            parts.append(f"{name} {shown!r}")
    return ", ".join(parts)


def conflict_error(path: Path, merge: ReviewMerge, reviewer: str) -> InputError:
    """The first conflict, naming the finding and both reviewers, and how many more."""
    row, now = merge.conflicts[0]
    more = len(merge.conflicts) - 1
    return InputError(
        f"{path}: sheet '{FINDINGS_SHEET}', row {row.row}: finding {row.fingerprint}: "
        f"{now.imported_by} stored {describe((now.status, now.owner, now.comment))} "
        f"({now.source}, {now.imported_at}) after this workbook's run was written, and "
        f"{reviewer}'s workbook says {describe(row.review)}"
        + (f"; {more} more finding(s) conflict" if more else "")
        + "; nothing stored: make the rows agree, or import again with --replace to store "
        "this workbook's reviews over theirs"
    )


def overridden_lines(merge: ReviewMerge) -> list[str]:
    """One line per other reviewer's review this import clears or replaces."""
    return [
        f"  {'cleared' if row.empty else 'replaced'} {now.imported_by}'s review of "
        f"{row.fingerprint} ({describe((now.status, now.owner, now.comment))})"
        for row, now in merge.overridden
    ]


def read_review_workbook(path: Path) -> ReviewSheet:
    """Read and validate the Findings sheet's review columns.

    A cell holding a formula counts with the value Excel last computed for it; a formula
    without one (a file written by a program that does not calculate) is an input error, never
    an empty review that would clear the stored one.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such workbook")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not an Excel workbook (.xlsx): not a zip archive")
    formulas: set[tuple[int, int]] = set()
    with _workbook(path, data_only=False) as workbook:
        rows = _read_rows(path, workbook, formulas)
        period = _period(path, workbook)
        digest = _property(workbook, "snapshot_sha256")
    if formulas:  # their cached values, from a second reading
        with _workbook(path, data_only=True) as workbook:
            cached = _read_rows(path, workbook, None)
        rows = [
            tuple(
                (cached[r][c] if cached[r][c] is not None else UNCACHED)
                if (r, c) in formulas
                else value
                for c, value in enumerate(row)
            )
            for r, row in enumerate(rows)
        ]
    parsed, identity_columns = _parse_rows(path, rows)
    with _workbook(path, data_only=True) as workbook:
        shortfalls = _shortfall_rows(path, workbook)
    return ReviewSheet(period, tuple(parsed), identity_columns, digest, shortfalls)


def _shortfall_rows(path: Path, workbook: Any) -> tuple[ShortfallReviewRow, ...]:
    """The reviewed rows of the Unsettled shortfalls sheet (none without the sheet); a row
    whose review cells are all empty says nothing and is left out."""
    if SHORTFALLS_SHEET not in workbook.sheetnames:
        return ()
    where = f"{path}: sheet '{SHORTFALLS_SHEET}'"
    sheet = workbook[SHORTFALLS_SHEET]
    sheet.reset_dimensions()
    try:
        rows = list(sheet.iter_rows(max_row=MAX_ROWS, max_col=MAX_COLUMNS, values_only=True))
    except Exception as exc:  # damaged sheet XML surfaces only while reading rows
        raise InputError(f"{where} is damaged: {_reason(exc)}") from None
    if not rows:
        return ()
    header = [_text(value) for value in rows[0]]
    columns: dict[str, int] = {}
    for name in (*SHORTFALL_HEADERS, *REVIEW_HEADERS):
        if name not in header:
            raise InputError(f"{where}, row 1: no '{name}' column header")
        columns[name] = header.index(name)
    reviewed: list[ShortfallReviewRow] = []
    for number, row in enumerate(rows[1:], start=2):
        cells = {name: row[index] if index < len(row) else None for name, index in columns.items()}

        def cell(name: str, number: int = number) -> str:
            return f"{where}, cell {get_column_letter(columns[name] + 1)}{number}"

        status = _status(cells["Review status"], cell("Review status"))
        owner, comment = _text(cells["Owner"]), _text(cells["Comment"])
        if status is None and owner is None and comment is None:
            continue
        period, service = _text(cells["Period"]), _text(cells["Service"])
        if period is None or service is None:
            missing = "Period" if period is None else "Service"
            raise InputError(f"{cell(missing)}: empty, so the row names no shortfall")
        datacenter = _identifier(cells["Datacenter"], cell("Datacenter"))
        vm_id = _identifier(cells["VM id"], cell("VM id"))
        key = fingerprint(service, datacenter, vm_id, win_unlicensed.META.id)
        reviewed.append(ShortfallReviewRow(period, ReviewRow(key, status, owner, comment, number)))
    return tuple(reviewed)


def check_shortfalls(
    path: Path, sheet: ReviewSheet, shortfalls_of: Callable[[str], Collection[str]]
) -> None:
    """Every reviewed row of the Unsettled shortfalls sheet must be a stored shortfall of its
    period (`shortfalls_of(period)`: that period's shortfall fingerprints)."""
    for item in sheet.shortfalls:
        if item.review.fingerprint not in shortfalls_of(item.period):
            raise InputError(
                f"{path}: sheet '{SHORTFALLS_SHEET}', row {item.review.row}: no shortfall of "
                f"period {item.period} for that Service, Datacenter and VM id in the history; "
                "the Period, Service, Datacenter and VM id cells must stay as the job wrote them"
            )


@contextlib.contextmanager
def _workbook(path: Path, data_only: bool) -> Iterator[Any]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=data_only)
    except Exception as exc:  # openpyxl raises many unrelated types for a damaged file
        raise InputError(f"{path}: damaged Excel workbook: {_reason(exc)}") from None
    try:
        yield workbook
    finally:
        workbook.close()


def _read_rows(
    path: Path, workbook: Any, formulas: set[tuple[int, int]] | None
) -> list[tuple[Any, ...]]:
    """The Findings sheet's values within MAX_ROWS and MAX_COLUMNS; with `formulas`, the
    positions of formula cells are added to it (their values are the formulas' text)."""
    if FINDINGS_SHEET not in workbook.sheetnames:
        raise InputError(
            f"{path}: no sheet '{FINDINGS_SHEET}': not a report.xlsx written by ovh-license-audit"
        )
    sheet = workbook[FINDINGS_SHEET]
    sheet.reset_dimensions()
    rows: list[tuple[Any, ...]] = []
    try:
        for r, cells in enumerate(
            sheet.iter_rows(max_row=MAX_ROWS, max_col=MAX_COLUMNS, values_only=formulas is None)
        ):
            if formulas is None:
                rows.append(tuple(cells))
                continue
            for c, cell in enumerate(cells):
                if getattr(cell, "data_type", None) == "f":
                    formulas.add((r, c))
            rows.append(tuple(getattr(cell, "value", None) for cell in cells))
    except Exception as exc:  # damaged sheet XML surfaces only while reading rows
        raise InputError(f"{path}: sheet '{FINDINGS_SHEET}' is damaged: {_reason(exc)}") from None
    return rows


def _reason(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _property(workbook: Any, name: str) -> str | None:
    """A custom document property the job set, or None."""
    for prop in getattr(workbook, "custom_doc_props", None) or ():
        value = getattr(prop, "value", None)
        if getattr(prop, "name", None) == name and isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _period(path: Path, workbook: Any) -> str:
    """The `period` custom property the job sets: which run the rows are findings of."""
    period = _property(workbook, PERIOD_PROPERTY)
    if period is not None:
        return period
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

        for name, value in cells.items():
            if value is UNCACHED:
                raise InputError(
                    f"{cell(name)}: a formula whose value was never calculated (the file was "
                    "saved by a program that does not compute formulas); type the value, or "
                    "open and save the workbook in Excel or LibreOffice"
                )

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
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())  # ASCII digits only: "²" is a digit to str.isdigit
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
