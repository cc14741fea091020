"""Day filing (DESIGN.md "One account per output folder, and observations that prove
themselves"): a snapshot's day is its taken_at converted to UTC, the same in `run` and
`observe`; a taken_at without a time zone, a day before 2000 or in the future, and a --date
that is not YYYY-MM-DD are input errors. A snapshot holding one VM id twice is one too."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixtures_history import PROD, STD, WIN, snapshot, vm

from audit.cli.main import main
from audit.history.store import HISTORY_FILE
from audit.model.snapshot import Snapshot, write_snapshot

FLEET = {(PROD, 1): [vm(1, WIN, STD), vm(2, WIN, None)]}


def stored(tmp_path: Path, taken_at: str, name: str = "input") -> str:
    path = tmp_path / f"{name}.json.gz"
    write_snapshot(snapshot(FLEET, taken_at), path)
    return str(path)


def observe(path: str, out: Path, *extra: str) -> int:
    return main(["observe", "--from-snapshot", path, "--out", str(out), *extra])


def run(path: str, out: Path, period: str) -> int:
    args = ["run", "--from-snapshot", path, "--out", str(out), "--period", period]
    return main([*args, "--fail-on", "never"])


def days(out: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(out / HISTORY_FILE) as db:
        return db.execute("SELECT day, source FROM observation ORDER BY day").fetchall()


@pytest.fixture
def far_time_zone() -> Iterator[None]:
    """The process's local time zone 10 hours behind UTC (where the trial filed a day wrong)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/Adak"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.usefixtures("far_time_zone")
def test_run_and_observe_file_an_offset_time_under_the_same_utc_day(tmp_path: Path) -> None:
    out = tmp_path / "out"
    late = stored(tmp_path, "2026-11-30T23:30:00-02:00")  # 2026-12-01T01:30Z
    assert observe(late, out) == 0
    assert [day for day, _ in days(out)] == ["2026-12-01"]
    assert days(out) == [("2026-12-01", "observe --from-snapshot")]
    assert run(late, out, "2026-11") == 0  # taken after November: its own day is December's
    assert days(out) == [("2026-12-01", "run")]
    document = json.loads((out / "2026-11" / "findings.json").read_text())
    assert document["exposure"]["source"] == "snapshot"
    assert document["exposure"]["observed_days"] == []
    assert (out / "observations" / "2026-12-01.json.gz").is_file()
    assert run(late, out, "2026-12") == 0
    document = json.loads((out / "2026-12" / "findings.json").read_text())
    assert document["exposure"]["observed_days"] == ["2026-12-01"]


@pytest.mark.parametrize("command", ["observe", "run"])
def test_a_taken_at_without_a_time_zone_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    out = tmp_path / "out"
    naive = stored(tmp_path, "2026-11-30T23:30:00")
    code = observe(naive, out) if command == "observe" else run(naive, out, "2026-11")
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "run.taken_at" in err and "time zone" in err and naive in err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("command", ["observe", "run"])
@pytest.mark.parametrize("when", ["future", "1999"])
def test_a_snapshot_of_a_future_day_or_before_2000_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, when: str
) -> None:
    out = tmp_path / "out"
    if when == "future":
        taken = datetime.now(UTC) + timedelta(days=2)
        taken_at = taken.strftime("%Y-%m-%dT%H:%M:%SZ")
        period = "current"
    else:
        taken_at, period = "1999-12-31T12:00:00Z", "2026-11"
    path = stored(tmp_path, taken_at)
    code = observe(path, out) if command == "observe" else run(path, out, period)
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and taken_at[:10] in err
    assert not (out / HISTORY_FILE).exists() or days(out) == []
    assert not (out / "observations").exists() or not any((out / "observations").iterdir())


@pytest.mark.parametrize(
    "text", ["1999-12-31", "0001-01-01", "2026-W48-1", "2026-335", "20261130", "2026-11-30T00"]
)
def test_a_date_before_2000_or_not_yyyy_mm_dd_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    out = tmp_path / "out"
    assert observe(stored(tmp_path, "2026-11-30T02:00:00Z"), out, "--date", text) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--date {text!r}" in err
    assert not out.exists()


def test_a_future_date_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    out = tmp_path / "out"
    assert observe(stored(tmp_path, "2026-11-30T02:00:00Z"), out, "--date", tomorrow) == 2
    assert "a future day" in capsys.readouterr().err


def with_duplicate(taken: Snapshot) -> Snapshot:
    [service] = taken.services
    [dc] = service.datacenters
    twin = {**dc.vms[1], "name": "the-other-one", "license": None}
    dc = replace(dc, vms=(*dc.vms, twin), vm_ids=(*dc.vm_ids, twin["vmId"]))
    return replace(taken, services=(replace(service, datacenters=(dc,)),))


@pytest.mark.parametrize("command", ["observe", "run"])
def test_a_vm_id_listed_twice_is_an_input_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """The trial: findings and plan came from one object, the history stored the other."""
    path = tmp_path / "twice.json.gz"
    write_snapshot(with_duplicate(snapshot(FLEET, "2026-11-30T02:00:00Z")), path)
    out = tmp_path / "out"
    code = observe(str(path), out) if command == "observe" else run(str(path), out, "2026-11")
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(path) in err and "vmId 2" in err and PROD in err and "datacenter 1" in err
    assert not out.exists()
