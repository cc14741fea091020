"""`ovh-license-audit import-review WORKBOOK [--history FILE] [--by NAME] [--replace]`.

Stores the Review status, Owner and Comment an auditor typed into a report.xlsx, by finding
fingerprint, so the next month's workbook and HTML show them pre-filled. The workbook is read
and validated in full before the history is touched: a bad cell, or a review conflicting with
another reviewer's stored since the run, changes nothing.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime
from pathlib import Path

from audit.cli.options import HelpFormatter, exit_codes_epilog
from audit.history.review import (
    check_run,
    check_shortfalls,
    conflict_error,
    merge_reviews,
    overridden_lines,
    read_review_workbook,
)
from audit.history.store import HISTORY_FILE, HistoryStore
from audit.support.crash import note_output_folder
from audit.support.errors import ExitCode, InputError


def default_history(workbook: Path) -> Path:
    """DIR/history.sqlite for a workbook still in its run folder DIR/<period>/report.xlsx."""
    candidate = workbook.resolve().parent.parent / HISTORY_FILE
    if not candidate.is_file():
        raise InputError(
            f"{workbook}: no {HISTORY_FILE} in the folder above it; name the history file "
            f"with --history DIR/{HISTORY_FILE}"
        )
    return candidate


def current_user() -> str:
    """Who imports, when not given: the login name, as the audit trail's best guess."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def import_review_command(args: argparse.Namespace) -> int:
    workbook: Path = args.workbook
    history: Path = args.history or default_history(workbook)
    if not history.is_file():
        raise InputError(f"{history}: no such history file (the monthly job creates it)")
    note_output_folder(history.parent)
    sheet = read_review_workbook(workbook)
    imported_at = datetime.now(UTC).isoformat(timespec="seconds")
    reviewer = args.by or current_user()
    with HistoryStore.open(history) as store, store.write():
        check_run(workbook, sheet, store.run_fingerprints(sheet.period))
        given = store.run_reviews(sheet.period, sheet.snapshot_sha256 or "")
        merge = merge_reviews(sheet, given, store.stored_reviews(), reviewer, args.replace)
        if merge.conflicts:
            raise conflict_error(workbook, merge, reviewer)
        check_shortfalls(workbook, sheet, store.shortfall_fingerprints)
        outcome = store.save_reviews(merge.sheet, workbook.name, imported_at, reviewer)
        settled = store.save_shortfall_reviews(
            sheet.shortfalls, workbook.name, imported_at, reviewer
        )
    kept = (
        f", {len(merge.kept)} kept (reviewed since the run; those rows are as the run wrote them)"
        if merge.kept
        else ""
    )
    print(
        f"{workbook}: {outcome.stored} review(s) stored, {outcome.cleared} cleared, "
        f"{outcome.unchanged} unchanged{kept}, into {history}"
    )
    if settled:
        print(f"{workbook}: {settled} review(s) of earlier periods' shortfalls stored")
    for line in overridden_lines(merge):
        print(line)
    return int(ExitCode.OK)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "import-review",
        help="store the review columns of an edited report.xlsx in the history",
        description=(
            "Read Review status, Owner and Comment from the Findings sheet of WORKBOOK and "
            "store them by finding, so later reports show them pre-filled; and from its "
            "Unsettled shortfalls sheet, the reviews of earlier periods' shortfalls (settled "
            "removes one from later reports)."
        ),
        epilog=exit_codes_epilog(
            ("0", "the reviews are stored"),
            (
                "2",
                "usage or input error naming the sheet and cell, or a review conflicting with "
                "another reviewer's (naming both); nothing is stored",
            ),
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("workbook", type=Path, metavar="WORKBOOK")
    parser.add_argument(
        "--history",
        type=Path,
        help=f"history file (default: {HISTORY_FILE} in the folder above WORKBOOK's folder)",
    )
    parser.add_argument("--by", help="who reviewed or imports (default: the login name)")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="store every row as the workbook says, over other reviewers' reviews (an empty "
        "row clears)",
    )
    parser.set_defaults(handler=import_review_command)
