"""import-review with several reviewers: workbooks of one run merge, conflicts stop.

Each reviewer edits a copy of the same report.xlsx. A row left as the job wrote it (the review
the run's reports were given) is untouched by that workbook: it never clears or replaces a
review someone stored since. A row changed in two workbooks by two reviewers is a conflict
(exit 2, nothing stored) unless --replace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from audit.cli.main import main
from audit.history.store import HISTORY_FILE, HistoryStore
from tests.helpers.history import PROD, WIN, WIN_CLIENT
from tests.helpers.history import run_month as job
from tests.helpers.review import edit, review_cells
from tests.helpers.vms import api_vm

JAN, FEB = "2026-01", "2026-02"
FLEET = {(PROD, 1): [api_vm(1, WIN, None), api_vm(2, WIN_CLIENT, None), api_vm(3, WIN, None)]}
ONE = f"{PROD}|1|1|WIN-UNLICENSED"
TWO = f"{PROD}|1|2|WIN-CLIENT-OS"
THREE = f"{PROD}|1|3|WIN-UNLICENSED"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    job(out, JAN, FLEET)
    return out


def stored(out: Path) -> dict[str, tuple[Any, ...]]:
    """The history's reviews: fingerprint -> (status, owner, comment, imported_by)."""
    with HistoryStore.open(out / HISTORY_FILE) as store:
        return {
            fingerprint: (review.status, review.owner, review.comment, review.imported_by)
            for fingerprint, review in store.reviews_for([ONE, TWO, THREE]).items()
        }


def review(
    path: Path, by: str, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    code = main(["import-review", str(path), "--by", by, *extra])
    captured = capsys.readouterr()
    return code, captured.out.strip(), captured.err.strip()


def test_two_reviewers_of_different_findings_merge(
    out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = out / JAN / "report.xlsx"
    alice = edit(report, out / JAN / "alice.xlsx", {(1, "WIN-UNLICENSED"): ("accepted", "a", "x")})
    bob = edit(report, out / JAN / "bob.xlsx", {(3, "WIN-UNLICENSED"): ("open", "ops", None)})
    assert review(alice, "alice", capsys)[0] == 0
    code, said, _ = review(bob, "bob", capsys)
    assert code == 0
    assert "1 review(s) stored, 0 cleared, 0 unchanged, 1 kept" in said
    assert stored(out) == {
        ONE: ("accepted", "a", "x", "alice"),
        THREE: ("open", "ops", None, "bob"),
    }
    job(out, FEB, FLEET)
    february = out / FEB / "report.xlsx"
    assert review_cells(february, 1, "WIN-UNLICENSED") == ("accepted", "a", "x")
    assert review_cells(february, 3, "WIN-UNLICENSED") == ("open", "ops", None)


def test_the_same_finding_reviewed_differently_by_two_reviewers_is_refused(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = out / JAN / "report.xlsx"
    alice = edit(report, out / JAN / "alice.xlsx", {(1, "WIN-UNLICENSED"): ("accepted", "a", "x")})
    bob = edit(
        report,
        out / JAN / "bob.xlsx",
        {(1, "WIN-UNLICENSED"): ("fixed", "a", "x"), (3, "WIN-UNLICENSED"): ("open", None, None)},
    )
    assert review(alice, "alice", capsys)[0] == 0
    before = (out / HISTORY_FILE).read_bytes()
    code, _, error = review(bob, "bob", capsys)
    assert code == 2
    assert len(error.splitlines()) == 1
    assert all(word in error for word in (str(bob), "alice", "bob", ONE, "--replace"))
    assert "'accepted'" in error and "'fixed'" in error
    assert (out / HISTORY_FILE).read_bytes() == before  # not even bob's review of VM 3
    assert stored(out) == {ONE: ("accepted", "a", "x", "alice")}

    code, said, _ = review(bob, "bob", capsys, "--replace")
    assert code == 0
    assert "alice's review of" in said and ONE in said
    assert stored(out) == {
        ONE: ("fixed", "a", "x", "bob"),
        THREE: ("open", None, None, "bob"),
    }


def test_a_reviewer_may_change_their_own_review_from_a_second_copy(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = out / JAN / "report.xlsx"
    first = edit(report, out / JAN / "v1.xlsx", {(1, "WIN-UNLICENSED"): ("open", "a", None)})
    second = edit(report, out / JAN / "v2.xlsx", {(1, "WIN-UNLICENSED"): ("fixed", "a", "done")})
    assert review(first, "alice", capsys)[0] == 0
    assert review(second, "alice", capsys)[0] == 0
    assert stored(out) == {ONE: ("fixed", "a", "done", "alice")}


def test_an_empty_row_leaves_a_review_stored_since_the_run(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bob's untouched row of VM 1 was empty when the run wrote it: it says nothing of VM 1.
    Clearing alice's later review takes --replace, and the output says whose it was."""
    report = out / JAN / "report.xlsx"
    alice = edit(report, out / JAN / "alice.xlsx", {(1, "WIN-UNLICENSED"): ("accepted", "a", "x")})
    bob = edit(report, out / JAN / "bob.xlsx", {(3, "WIN-UNLICENSED"): ("open", "ops", None)})
    assert review(alice, "alice", capsys)[0] == 0
    assert review(bob, "bob", capsys)[0] == 0
    assert stored(out)[ONE] == ("accepted", "a", "x", "alice")

    code, said, _ = review(bob, "bob", capsys, "--replace")
    assert code == 0
    assert "0 review(s) stored, 1 cleared" in said
    assert f"cleared alice's review of {ONE}" in said
    assert ONE not in stored(out)


def test_clearing_a_pre_filled_review_is_said_and_a_later_one_is_a_conflict(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """February's workbook shows alice's January review: bob clearing it there clears it, and
    the output names alice. Had alice changed it after February's run, bob's clearing would
    be a conflict."""
    january = edit(
        out / JAN / "report.xlsx",
        out / JAN / "alice.xlsx",
        {(1, "WIN-UNLICENSED"): ("accepted", "a", None), (2, "WIN-CLIENT-OS"): ("open", "a", None)},
    )
    assert review(january, "alice", capsys)[0] == 0
    job(out, FEB, FLEET)
    report = out / FEB / "report.xlsx"
    bob = edit(report, out / FEB / "bob.xlsx", {(2, "WIN-CLIENT-OS"): (None, None, None)})
    code, said, _ = review(bob, "bob", capsys)
    assert code == 0
    assert "1 cleared" in said and f"cleared alice's review of {TWO}" in said
    assert TWO not in stored(out)

    later = edit(report, out / FEB / "alice.xlsx", {(1, "WIN-UNLICENSED"): ("fixed", "a", None)})
    assert review(later, "alice", capsys)[0] == 0
    cleared = edit(report, out / FEB / "bob-2.xlsx", {(1, "WIN-UNLICENSED"): (None, None, None)})
    code, _, error = review(cleared, "bob", capsys)
    assert code == 2
    assert all(word in error for word in ("alice", "bob", ONE, "no review", "--replace"))
    assert stored(out)[ONE] == ("fixed", "a", None, "alice")
