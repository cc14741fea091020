"""One account per output folder (DESIGN.md "One account per output folder, and observations
that prove themselves"): the first run or observation records the services and the endpoint;
a folder's history refuses a fleet that shares no service with them, shows an endpoint that
changed, and a run never counts observations of services it did not read."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from audit.cli.main import main
from audit.evaluate.inventory import inventory_of
from audit.history.observations import observation_of
from audit.history.store import HISTORY_FILE, HistoryStore
from audit.model.snapshot import Snapshot, write_snapshot
from audit.simulator.fleet import Fleet
from audit.simulator.server import Simulator
from tests.helpers.credentials import ovh_credentials  # noqa: F401  (autouse)
from tests.helpers.history import LAB, PROD, STD, WIN, snapshot
from tests.helpers.history_versions import VERSION_6_UNDONE
from tests.helpers.vms import api_vm

PERIOD = "2026-11"
OTHER = "pcc-192-0-2-99"  # a service of another account
OURS = {(PROD, 1): [api_vm(1, WIN, STD), api_vm(2, WIN, STD)]}
# The other account: seventeen Windows servers running without a licence.
THEIRS = {(OTHER, 7): [api_vm(100 + index, WIN, None) for index in range(17)]}


def stored(tmp_path: Path, name: str, fleet: Any, taken_at: str, endpoint: str = "ovh-eu") -> str:
    path = tmp_path / f"{name}.json.gz"
    taken = snapshot(fleet, taken_at)
    write_snapshot(replace(taken, meta=replace(taken.meta, endpoint=endpoint)), path)
    return str(path)


def observe(path: str, out: Path, *extra: str) -> int:
    return main(["observe", "--from-snapshot", path, "--out", str(out), *extra])


def run(path: str, out: Path, *extra: str) -> int:
    args = ["run", "--from-snapshot", path, "--out", str(out), "--period", PERIOD]
    return main([*args, "--fail-on", "never", *extra])


def findings(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / PERIOD / "findings.json").read_text()))


def test_another_accounts_observation_is_refused_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert observe(stored(tmp_path, "ours", OURS, "2026-11-02T02:00:00Z"), out) == 0
    capsys.readouterr()
    theirs = stored(tmp_path, "theirs", THEIRS, "2026-11-03T02:00:00Z", endpoint="ovh-ca")
    assert observe(theirs, out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ovh-license-audit: error: ")
    assert PROD in err and OTHER in err and "ovh-eu" in err and "ovh-ca" in err
    assert str(out / HISTORY_FILE) in err
    assert not (out / "observations" / "2026-11-03.json.gz").exists()
    with HistoryStore.open(out / HISTORY_FILE) as store:
        assert store.observed_days() == ["2026-11-02"]
    # The monthly run of the other account is refused the same way, nothing written.
    assert run(theirs, out) == 2
    assert OTHER in capsys.readouterr().err
    assert not (out / PERIOD).exists()
    assert sorted(path.name for path in out.iterdir()) == [HISTORY_FILE, "observations"]


def test_the_first_run_records_the_account_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run(stored(tmp_path, "ours", OURS, "2026-11-02T02:00:00Z"), out) == 0
    theirs = stored(tmp_path, "theirs", THEIRS, "2026-11-03T02:00:00Z")
    assert observe(theirs, out) == 2
    assert "shares no service" in capsys.readouterr().err


def test_a_fleet_sharing_a_service_is_the_same_account(tmp_path: Path) -> None:
    """An account that gains a service: the new one joins the recorded ones."""
    out = tmp_path / "out"
    assert observe(stored(tmp_path, "ours", OURS, "2026-11-02T02:00:00Z"), out) == 0
    grown = {**OURS, (LAB, 2): [api_vm(5, WIN, STD)]}
    assert observe(stored(tmp_path, "grown", grown, "2026-11-03T02:00:00Z"), out) == 0
    lab_only = {(LAB, 2): [api_vm(5, WIN, STD)]}
    assert observe(stored(tmp_path, "lab", lab_only, "2026-11-04T02:00:00Z"), out) == 0


def test_a_run_never_counts_observations_of_services_it_did_not_read(tmp_path: Path) -> None:
    """The trial: a second fleet observed into the same --out, then the audited account's run
    gave 17 WIN-UNLICENSED-INTERIM findings on services it does not have."""
    out = tmp_path / "out"
    assert observe(stored(tmp_path, "ours", OURS, "2026-11-02T02:00:00Z"), out) == 0
    # Shares PROD, so it is accepted: its other service must still never reach our run.
    mixed = {**OURS, **THEIRS}
    assert observe(stored(tmp_path, "mixed", mixed, "2026-11-03T02:00:00Z"), out) == 0
    # A day recorded before the check existed: only the other account's VMs.
    foreign = snapshot(THEIRS, "2026-11-04T02:00:00Z")
    with HistoryStore.open(out / HISTORY_FILE) as store, store.write():
        record = observation_of(
            inventory_of(foreign), "0" * 64, date(2026, 11, 4), "observe", "now"
        )
        store.record_observation(record)
    assert run(stored(tmp_path, "run", OURS, "2026-11-05T02:00:00Z"), out) == 0
    document = findings(out)
    assert {item["service_name"] for item in document["findings"]} <= {PROD}
    assert not [item for item in document["findings"] if item["rule_id"].startswith("WIN-")]
    exposure = document["exposure"]
    assert {item["service_name"] for item in exposure["vms"]} == {PROD}
    assert {item["service_name"] for item in exposure["licences"]} == {PROD}
    assert {item["service_name"] for item in document["licences"]} == {PROD}
    # The day that saw only the other account is named and not counted.
    days = {item["day"]: item for item in exposure["observations"]}
    assert days["2026-11-04"]["counted"] is False
    assert exposure["observed_days"] == ["2026-11-02", "2026-11-03", "2026-11-05"]
    html = (out / PERIOD / "report.html").read_text()
    assert OTHER not in html


@pytest.mark.slow
def test_an_endpoint_that_changed_is_recorded_and_shown(
    fleet_data: dict[str, Any], tmp_path: Path
) -> None:
    """A simulator on another port (or a proxy) is the same account: recorded, not refused."""
    out = tmp_path / "out"
    fleet = Fleet.from_json({**fleet_data, "faults": []}, "fleet_data")
    config = tmp_path / "fast.toml"
    config.write_text("[audit]\nmax_retries = 1\nretry_base_delay_s = 0.01\n")
    api = ["--out", str(out), "--config", str(config), "--max-rps", "1000"]
    urls = []
    for extra in (["--date", "2026-11-10"], ["--date", "2026-11-11"], []):
        with Simulator(fleet) as sim:
            urls.append(sim.url)
            assert main(["observe", "--endpoint", sim.url, *api, *extra]) == 0
    with sqlite3.connect(out / HISTORY_FILE) as db:
        rows = db.execute("SELECT day, source, endpoint FROM observation ORDER BY day").fetchall()
    assert [(source, endpoint) for _, source, endpoint in rows] == [
        ("observe --date", urls[0]),
        ("observe --date", urls[1]),
        ("observe", urls[2]),
    ]
    with Simulator(fleet) as sim:
        args = ["run", "--endpoint", sim.url, "--period", PERIOD, "--fail-on", "never"]
        assert main([*args, *api]) == 0
    document = findings(out)
    days = [(d["day"], d["source"], d["endpoint"]) for d in document["exposure"]["observations"]]
    assert days == [
        ("2026-11-10", "observe --date", urls[0]),
        ("2026-11-11", "observe --date", urls[1]),
    ]
    html = (out / PERIOD / "report.html").read_text()
    section = html[html.index('<section id="exposure">') :]
    assert urls[0] in section and urls[1] in section


def test_a_snapshot_of_no_service_is_no_other_account(tmp_path: Path) -> None:
    """An account whose last service ended shares nothing, but holds no one else's VMs."""
    out = tmp_path / "out"
    assert observe(stored(tmp_path, "ours", OURS, "2026-11-02T02:00:00Z"), out) == 0
    empty: Snapshot = snapshot({}, "2026-11-03T02:00:00Z")
    path = tmp_path / "empty.json.gz"
    write_snapshot(empty, path)
    assert observe(str(path), out) == 0


def test_a_history_from_before_takes_its_runs_services_as_the_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Version 6 of the history file records the account; a file from before takes its runs'
    services (the audited account's), its days' sources become the new names."""
    out = tmp_path / "out"
    assert run(stored(tmp_path, "ours", OURS, "2026-11-02T02:00:00Z"), out) == 0
    db = sqlite3.connect(out / HISTORY_FILE, isolation_level=None)
    for statement in VERSION_6_UNDONE:
        db.execute(statement)
    db.execute("UPDATE observation SET source = 'run 2026-11'")
    db.execute("PRAGMA user_version = 5")
    db.close()
    theirs = stored(tmp_path, "theirs", THEIRS, "2026-11-03T02:00:00Z")
    assert observe(theirs, out) == 2
    assert PROD in capsys.readouterr().err
    with sqlite3.connect(out / HISTORY_FILE) as db:
        assert db.execute("SELECT day, source, calls FROM observation").fetchall() == [
            ("2026-11-02", "run", None)
        ]
