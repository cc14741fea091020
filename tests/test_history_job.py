"""History through the monthly job: months that change, a period run again, offline rebuild."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import lxml.html
import openpyxl
import pytest

from audit.cli.main import main
from audit.history.store import HISTORY_FILE, HistoryStore
from audit.model.history_file import read_view
from tests.helpers.history import LINUX, PROD, STD, WIN, WIN_CLIENT, Fleet, by_vm, events
from tests.helpers.history import run_month as job
from tests.helpers.vms import api_vm

JAN, FEB, MAR = "2026-01", "2026-02", "2026-03"


def january() -> Fleet:
    return {
        (PROD, 1): [
            api_vm(101, WIN, None),  # WIN-UNLICENSED: fixed in February, back in March
            api_vm(102, LINUX, STD),  # LIC-NON-WINDOWS: fixed in February
            api_vm(103, WIN, STD),  # clean; licence changed in March
            api_vm(104, WIN, None),  # WIN-UNLICENSED; the VM goes in February
            api_vm(105, LINUX, None),  # clean; reinstalled as Windows in February
            api_vm(107, WIN_CLIENT, None),  # WIN-CLIENT-OS all along
        ]
    }


def february() -> Fleet:
    return {
        (PROD, 1): [
            api_vm(101, WIN, STD),
            api_vm(102, LINUX, None),
            api_vm(103, WIN, STD),
            api_vm(105, WIN, None),
            api_vm(106, WIN, None),
            api_vm(107, WIN_CLIENT, None),
        ]
    }


def march() -> Fleet:
    return {
        (PROD, 1): [
            api_vm(101, WIN, None),
            api_vm(102, LINUX, None),
            api_vm(103, WIN, "windows 2019 Datacenter"),
            api_vm(105, WIN, None),
            api_vm(106, WIN, None),
            api_vm(107, WIN_CLIENT, None),
        ]
    }


def document(out: Path, period: str) -> dict[str, Any]:
    return json.loads((out / period / "findings.json").read_text(encoding="utf-8"))


def test_first_run_everything_new(tmp_path: Path) -> None:
    out = tmp_path / "out"
    doc = job(out, JAN, january()).report.to_json()
    assert {f["change"] for f in doc["findings"]} == {"new"}
    assert {json.dumps(f["first_seen"]) for f in doc["findings"]} == {
        json.dumps({"period": JAN, "date": "2026-01-01"})
    }
    assert doc["previous_run"] is None
    assert doc["resolved"] == doc["changes"] == doc["unverified"] == []
    assert doc == document(out, JAN)


@pytest.mark.slow
def test_two_and_three_months(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = job(out, JAN, january())
    feb = job(out, FEB, february()).report.to_json()
    assert feb["previous_run"] == {
        "period": JAN,
        "taken_at": "2026-01-01T03:00:00Z",
        "snapshot_sha256": first.snapshot_sha256,
    }
    found = by_vm(feb)
    assert found[(105, "WIN-UNLICENSED")]["change"] == "new"
    assert found[(106, "WIN-UNLICENSED")]["change"] == "new"
    assert found[(107, "WIN-CLIENT-OS")]["change"] == "persisting"
    assert found[(107, "WIN-CLIENT-OS")]["first_seen"]["period"] == JAN
    assert [(r["vm_id"], r["rule_id"], r["reason"]) for r in feb["resolved"]] == [
        (101, "WIN-UNLICENSED", "fixed"),
        (102, "LIC-NON-WINDOWS", "fixed"),
        (104, "WIN-UNLICENSED", "vm_removed"),
    ]
    assert events(feb) == [
        ("licence_set", 101, None, STD),
        ("licence_removed", 102, STD, None),
        ("vm_removed", 104, None, None),
        ("guest_os_changed", 105, LINUX, WIN),
        ("vm_added", 106, None, None),
    ]

    mar = job(out, MAR, march()).report.to_json()
    found = by_vm(mar)
    reopened = found[(101, "WIN-UNLICENSED")]
    assert reopened["change"] == "reopened"
    assert reopened["first_seen"] == {"period": JAN, "date": "2026-01-01"}
    assert found[(105, "WIN-UNLICENSED")]["change"] == "persisting"
    assert found[(105, "WIN-UNLICENSED")]["first_seen"]["period"] == FEB
    assert mar["resolved"] == []
    assert events(mar) == [
        ("licence_removed", 101, STD, None),
        ("licence_changed", 103, STD, "windows 2019 Datacenter"),
    ]
    with HistoryStore.open(out / HISTORY_FILE) as store:
        assert store.periods() == [JAN, FEB, MAR]


@pytest.mark.slow
def test_trend_and_previous_counts_reach_the_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    job(out, JAN, january())
    job(out, FEB, february())
    result = job(out, MAR, march())
    with HistoryStore.open(out / HISTORY_FILE) as store:
        earlier = store.runs_before(MAR, 11)
    assert [run.period for run in earlier] == [JAN, FEB]
    view = read_view(result.run_dir)
    assert [point.period for point in view.trend] == [JAN, FEB, MAR]
    assert [point.open_by_severity["high"] for point in view.trend] == [2, 2, 3]
    assert view.trend[-1].open == sum(result.evaluation.summary.open_by_severity.values())
    assert view.previous is not None
    assert view.previous.period == FEB
    assert view.previous.open_by_severity["high"] == 2


@pytest.mark.slow
def test_running_a_period_again_replaces_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    job(out, JAN, january())
    job(out, FEB, january())  # nothing changed yet...
    job(out, MAR, march())
    again = job(out, FEB, february()).report.to_json()  # ...then February is run again, for real
    assert [e[0] for e in events(again)][:2] == ["licence_set", "licence_removed"]
    db = sqlite3.connect(out / HISTORY_FILE)
    try:
        runs = db.execute("SELECT period, count(*) FROM run GROUP BY period").fetchall()
        vms = db.execute(
            "SELECT count(*) FROM vm JOIN run ON run.id = vm.run_id WHERE period = ?", (FEB,)
        ).fetchone()[0]
        orphans = db.execute(
            "SELECT count(*) FROM finding WHERE run_id NOT IN (SELECT id FROM run)"
        ).fetchone()[0]
    finally:
        db.close()
    assert runs == [(JAN, 1), (FEB, 1), (MAR, 1)]
    assert vms == len(february()[(PROD, 1)])
    assert orphans == 0
    # March keeps what it was compared with; a March re-run now sees the new February.
    mar = job(out, MAR, march()).report.to_json()
    assert by_vm(mar)[(101, "WIN-UNLICENSED")]["change"] == "reopened"


@pytest.mark.slow
def test_offline_rebuild_renders_identically_with_history(tmp_path: Path) -> None:
    out = tmp_path / "out"
    job(out, JAN, january())
    job(out, FEB, february())
    run_dir = out / FEB
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    assert main(["report", str(run_dir)]) == 0
    after = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    assert after == before


def test_rebuild_reads_the_folder_alone_whatever_became_of_the_history(tmp_path: Path) -> None:
    """The history view is frozen into history.json at run time: an edited or emptied history
    file changes neither the rebuilt reports nor the manifest (issue 21)."""
    out = tmp_path / "out"
    job(out, JAN, january())
    job(out, FEB, february())
    run_dir = out / FEB
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert "history.json" in manifest["files"]
    frozen = read_view(run_dir)
    assert frozen.previous is not None and frozen.previous.period == JAN
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    db = sqlite3.connect(out / HISTORY_FILE)
    try:
        with db:
            db.execute(
                "UPDATE run SET summary = ? WHERE period = ?",
                ('{"open_by_severity": {"high": 99}}', JAN),
            )
            db.execute("DELETE FROM run_review")
            db.execute("DELETE FROM review")
    finally:
        db.close()
    assert main(["report", str(run_dir)]) == 0
    after = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    assert after == before
    (out / HISTORY_FILE).unlink()
    assert main(["report", str(run_dir)]) == 0
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before


def test_an_edited_history_json_is_refused_by_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    job(out, JAN, january())
    job(out, FEB, february())
    path = out / FEB / "history.json"
    path.write_text(path.read_text(encoding="utf-8").replace(JAN, "2025-12"), encoding="utf-8")
    assert main(["report", str(out / FEB)]) == 2


@pytest.mark.slow
def test_offline_rebuild_without_history_file_still_renders(tmp_path: Path) -> None:
    out = tmp_path / "out"
    job(out, JAN, january())
    (out / HISTORY_FILE).unlink()
    assert main(["report", str(out / JAN)]) == 0
    assert not (out / HISTORY_FILE).exists()


@pytest.mark.slow
def test_a_failed_render_leaves_history_and_folder_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    job(out, JAN, january())

    def broken(*_args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("audit.job.write_manifest", broken)
    with pytest.raises(RuntimeError):
        job(out, FEB, february())
    assert not (out / FEB).exists()
    with HistoryStore.open(out / HISTORY_FILE) as store:
        assert store.periods() == [JAN]


@pytest.mark.slow
def test_reports_show_changes_deltas_and_trend(tmp_path: Path) -> None:
    out = tmp_path / "out"
    job(out, JAN, january())
    job(out, FEB, february())
    first = openpyxl.load_workbook(out / JAN / "report.xlsx")
    assert "Changes" not in first.sheetnames
    book = openpyxl.load_workbook(out / FEB / "report.xlsx")
    rows = list(book["Changes"].iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[5]) for row in rows] == [
        ("new", 105),
        ("new", 106),
        ("gone: fixed", 101),
        ("gone: fixed", 102),
        ("gone: vm removed", 104),
        ("licence set", 101),
        ("licence removed", 102),
        ("vm removed", 104),
        ("guest os changed", 105),
        ("vm added", 106),
    ]
    summary = {row[0]: row for row in book["Summary"].iter_rows(values_only=True) if row[0]}
    assert summary["Severity"][3:5] == (f"Open in {JAN}", "Change in open")
    assert summary["high"][2:5] == (2, 2, 0)
    assert summary["medium"][2:5] == (1, 2, -1)
    assert book["Summary"]._charts

    page = lxml.html.fromstring((out / FEB / "report.html").read_bytes())
    arrivals = page.get_element_by_id("arrivals").text_content()
    assert "vm-105" in arrivals and "vm-106" in arrivals and "vm-107" not in arrivals
    assert "-1 since 2026-01 (medium -1)" in page.find_class("delta")[0].text_content()
    assert len(page.get_element_by_id("chart-trend").xpath("./svg/g")) == 2
    assert page.xpath("//nav//a[@href='#changes']")


def test_an_id_beyond_the_apis_long_is_no_id_and_the_run_is_stored(tmp_path: Path) -> None:
    """SQLite refuses integers past 2**63 - 1; such an id from the API is not an id at all."""
    result = job(
        tmp_path / "out", JAN, {(PROD, 1): [api_vm(2**70, WIN, None), api_vm(5, WIN, None)]}
    )
    unlicensed = [
        f for f in result.report.to_json()["findings"] if f["rule_id"] == "WIN-UNLICENSED"
    ]
    assert sorted(f["vm_id"] is None for f in unlicensed) == [False, True]
    with HistoryStore.open(tmp_path / "out" / HISTORY_FILE) as store:
        assert store.runs_before("2026-12", 12)[0].period == JAN
