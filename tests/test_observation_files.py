"""Observations that prove themselves (DESIGN.md "One account per output folder, and
observations that prove themselves"): every observation counted has its file
observations/<day>.json.gz, findings.json lists each observed day with its source, when it was
collected, the file's sha256, the calls and whether it was complete; a day whose file is
missing or differs is not counted, and the reports name it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fixtures_history import PROD, STD, WIN, snapshot, vm
from openpyxl import load_workbook

from audit.cli.main import main
from audit.history.store import HISTORY_FILE, HistoryStore
from audit.model.snapshot import write_snapshot

PERIOD = "2026-11"
FLEET = {(PROD, 1): [vm(1, WIN, STD), vm(2, WIN, None, "poweredOff")]}
ON = {(PROD, 1): [vm(1, WIN, STD), vm(2, WIN, None)]}  # VM 2 runs unlicensed


def stored(tmp_path: Path, name: str, fleet: Any, taken_at: str, calls: int = 0) -> Path:
    path = tmp_path / f"{name}.json.gz"
    taken = snapshot(fleet, taken_at)
    write_snapshot(replace(taken, meta=replace(taken.meta, calls=calls)), path)
    return path


def observe(path: Path, out: Path, *extra: str) -> int:
    return main(["observe", "--from-snapshot", str(path), "--out", str(out), *extra])


def run(path: Path, out: Path) -> int:
    args = ["run", "--from-snapshot", str(path), "--out", str(out), "--period", PERIOD]
    return main([*args, "--fail-on", "never"])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def exposure(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / PERIOD / "findings.json").read_text())["exposure"])


def test_a_run_writes_the_file_of_the_day_it_records(tmp_path: Path) -> None:
    """The run's own snapshot is its day's observation: the day's file is that snapshot, and
    an older file of that day (an earlier `observe`) is replaced with it."""
    out = tmp_path / "out"
    assert observe(stored(tmp_path, "early", FLEET, "2026-11-20T02:00:00Z"), out) == 0
    day_file = out / "observations" / "2026-11-20.json.gz"
    early = sha256(day_file)
    later = stored(tmp_path, "later", ON, "2026-11-20T09:00:00Z", calls=12)
    assert run(later, out) == 0
    assert day_file.read_bytes() == later.read_bytes()
    assert sha256(day_file) != early
    document = json.loads((out / PERIOD / "findings.json").read_text())
    assert document["run"]["snapshot_sha256"] == sha256(day_file)
    [day] = document["exposure"]["observations"]
    assert day == {
        "day": "2026-11-20",
        "source": "run",
        "collected_at": "2026-11-20T09:00:00Z",
        "endpoint": "ovh-eu",
        "sha256": sha256(day_file),
        "calls": 12,
        "complete": True,
        "file": "ok",
        "counted": True,
    }
    with HistoryStore.open(out / HISTORY_FILE) as store:
        assert store.observed_days() == ["2026-11-20"]


def test_each_observed_day_says_where_it_came_from(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = stored(tmp_path, "first", FLEET, "2026-11-02T02:00:00Z", calls=7)
    assert observe(first, out) == 0
    assert observe(first, out, "--date", "2026-11-03") == 0
    assert run(stored(tmp_path, "run", FLEET, "2026-11-04T02:00:00Z", calls=9), out) == 0
    days = {item["day"]: item for item in exposure(out)["observations"]}
    assert {day: item["source"] for day, item in days.items()} == {
        "2026-11-02": "observe --from-snapshot",
        "2026-11-03": "observe --from-snapshot",
        "2026-11-04": "run",
    }
    assert days["2026-11-03"]["collected_at"] == "2026-11-02T02:00:00Z"
    assert (days["2026-11-02"]["calls"], days["2026-11-04"]["calls"]) == (7, 9)
    for day, item in days.items():
        assert item["sha256"] == sha256(out / "observations" / f"{day}.json.gz")
        assert (item["file"], item["counted"], item["complete"]) == ("ok", True, True)


@pytest.mark.parametrize("damage", ["deleted", "truncated", "replaced"])
def test_a_day_whose_file_is_missing_or_differs_is_not_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    """The trial: a truncated and a deleted daily file were still counted without a word."""
    out = tmp_path / "out"
    assert observe(stored(tmp_path, "on", ON, "2026-11-02T02:00:00Z"), out) == 0
    assert observe(stored(tmp_path, "off", FLEET, "2026-11-03T02:00:00Z"), out) == 0
    day_file = out / "observations" / "2026-11-02.json.gz"
    if damage == "deleted":
        day_file.unlink()
    elif damage == "truncated":
        day_file.write_bytes(day_file.read_bytes()[:40])
    else:  # a valid snapshot, but not the one that was recorded
        day_file.write_bytes((out / "observations" / "2026-11-03.json.gz").read_bytes())
    capsys.readouterr()
    assert run(stored(tmp_path, "run", FLEET, "2026-11-04T02:00:00Z"), out) == 0
    assert "1 stored observation(s) NOT counted (2026-11-02)" in capsys.readouterr().out
    figures = exposure(out)
    days = {item["day"]: item for item in figures["observations"]}
    status = "missing" if damage == "deleted" else "differs"
    assert (days["2026-11-02"]["file"], days["2026-11-02"]["counted"]) == (status, False)
    assert figures["observed_days"] == ["2026-11-03", "2026-11-04"]
    assert "2026-11-02" in figures["missing_days"]
    # VM 2 ran unlicensed only on the day that is not counted: no shortfall, no finding.
    assert not [vm for vm in figures["vms"] if vm["days_unlicensed"]]
    document = json.loads((out / PERIOD / "findings.json").read_text())
    assert not [item for item in document["findings"] if item["rule_id"] == "WIN-UNLICENSED"]
    # Both reports name the day and why; the provenance table lists every day.
    html = (out / PERIOD / "report.html").read_text()
    section = html[html.index('<section id="exposure">') :]
    section = section[: section.index("</section>")]
    assert "Observed days" in section
    assert "not counted" in section and "2026-11-02" in section
    word = "missing" if damage == "deleted" else "differs from its recorded sha256"
    assert word in section
    sheet = load_workbook(out / PERIOD / "report.xlsx", read_only=True)["Exposure"]
    rows = [row for row in sheet.iter_rows(values_only=True) if any(row)]
    table = {row[0]: row for row in rows if isinstance(row[0], str) and row[0][:3] == "202"}
    assert table["2026-11-02"][:2] == ("2026-11-02", "observe --from-snapshot")
    assert f"not counted: file {status}" in " ".join(str(cell) for cell in table["2026-11-02"])
    assert "counted" in " ".join(str(cell) for cell in table["2026-11-03"])
    text = " ".join(str(cell) for row in rows for cell in row if cell)
    assert "not counted" in text and "2026-11-02" in text


def test_the_provenance_survives_a_rebuild(tmp_path: Path) -> None:
    """`report RUN_DIR` rebuilds from the folder alone: the provenance is in findings.json."""
    out = tmp_path / "out"
    assert observe(stored(tmp_path, "on", ON, "2026-11-02T02:00:00Z"), out) == 0
    assert run(stored(tmp_path, "run", FLEET, "2026-11-04T02:00:00Z"), out) == 0
    before = (out / PERIOD / "report.html").read_text()
    (out / "observations" / "2026-11-02.json.gz").unlink()  # after the run: changes nothing
    assert main(["report", str(out / PERIOD)]) == 0
    assert (out / PERIOD / "report.html").read_text() == before


def test_a_hostile_endpoint_is_escaped_in_the_observed_days(tmp_path: Path) -> None:
    out = tmp_path / "out"
    hostile = '=HYPERLINK("http://x")<script>alert(1)</script>\x1b[2J'
    path = tmp_path / "hostile.json.gz"
    taken = snapshot(FLEET, "2026-11-02T02:00:00Z")
    write_snapshot(replace(taken, meta=replace(taken.meta, endpoint=hostile)), path)
    assert observe(path, out) == 0
    assert run(stored(tmp_path, "run", FLEET, "2026-11-04T02:00:00Z"), out) == 0
    html = (out / PERIOD / "report.html").read_text()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "\x1b" not in html
    sheet = load_workbook(out / PERIOD / "report.xlsx")["Exposure"]
    [cell] = [c for row in sheet.iter_rows() for c in row if "HYPERLINK" in str(c.value)]
    assert cell.data_type == "s" and "\x1b" not in str(cell.value)
