"""A month of daily observations of a changing fleet, counted by hand.

Period 2026-05, one datacenter. Observed days 1, 2, 3, 5, 6, 7, 8, 9, 10 (day 4 missing); the
observation of day 6 is incomplete: VM 3 could not be read. The run's snapshot is day 10.

    VM 1  Windows 2019, 'windows 2019 Standard', on every day
    VM 2  Windows 2019, no licence days 1-5, then 'windows 2019 Standard', on every day
    VM 3  Windows 2019, no licence, created day 3, deleted from day 8 (unread on day 6)
    VM 4  Windows 2019, 'windows 2019 Standard', powered off every day
    VM 5  Windows 2019, no licence, powered off every day
    VM 6  Linux, on every day

Counted by hand:
    days observed 9; missing 2026-05-04; incomplete 2026-05-06
    VM 1: 9 observed, 9 on, 0 unlicensed
    VM 2: 9 observed, 9 on, 4 unlicensed (05-01 .. 05-05)
    VM 3: 3 observed (3, 5, 7), 3 on, 3 unlicensed (05-03 .. 05-07)
    VM 4: 9 observed, 0 on;  VM 5: 9 observed, 0 on, 0 unlicensed
    'windows 2019 Standard' carried by: days 1, 2, 3, 5 -> 2 VMs (1, 4); days 6..10 -> 3 VMs
        (1, 2, 4): peak 3, licence-days 4 * 2 + 5 * 3 = 23
    billed (carried on a day powered on): VMs 1 and 2 (VM 4 never ran), 2 vCPUs each: 2 VMs,
        4 vCPUs; VM 3 ran unlicensed and was billed nothing: the period's one shortfall
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from audit import frames
from audit.cli.main import main
from audit.collect.source import SnapshotSource
from audit.evaluate.inventory import inventory_of
from audit.evaluate.position import licence_usage, licences
from audit.exposure.frame import period_exposure
from audit.exposure.observe import record_day
from audit.history.changes import vm_states
from audit.history.observations import observation_of
from audit.history.store import HISTORY_FILE, HistoryStore
from audit.job import JobSpec, run_job
from audit.model.exposure import Source
from audit.model.period import Period
from audit.model.snapshot import (
    Coverage,
    DatacenterSnapshot,
    Failure,
    Scope,
    ServiceSnapshot,
    Snapshot,
    SnapshotMeta,
    encode_snapshot,
    write_snapshot,
)
from audit.runtime.plan import ActionKind
from tests.helpers.vms import api_vm

SERVICE = "pcc-192-0-2-1"
PERIOD = Period(2026, 5)
LICENCE = "windows 2019 Standard"
SERVER = "windows2019srv_64Guest"
DAYS = (1, 2, 3, 5, 6, 7, 8, 9, 10)


def fleet_on(day: int) -> list[dict[str, Any]]:
    vms = [
        api_vm(1, SERVER, LICENCE),
        api_vm(2, SERVER, None if day <= 5 else LICENCE),
        api_vm(4, SERVER, LICENCE, power="poweredOff"),
        api_vm(5, SERVER, None, power="poweredOff"),
        api_vm(6, "rhel9_64Guest", None),
    ]
    if day >= 3:
        vms.append(api_vm(3, SERVER, None, power="deleted" if day >= 8 else "poweredOn"))
    return sorted(vms, key=lambda raw: raw["vmId"])


def snapshot_of(day: int) -> Snapshot:
    vms = fleet_on(day)
    ids = tuple(raw["vmId"] for raw in vms)
    failures: tuple[Failure, ...] = ()
    if day == 6:  # VM 3 is listed but could not be read
        failures = (
            Failure(Scope.VM, f"/dedicatedCloud/{SERVICE}/datacenter/1/vm/3", "500", SERVICE, 1, 3),
        )
        vms = [raw for raw in vms if raw["vmId"] != 3]
    licensed = tuple(
        {key: raw[key] for key in ("vmId", "name", "moRef", "guestOsFamily", "license")}
        for raw in vms
        if raw["license"] is not None and raw["powerState"] != "deleted"
    )
    dc = DatacenterSnapshot(1, {"datacenterId": 1}, ids, tuple(vms), licensed)
    coverage = Coverage(1, 1, 1, 1, len(ids), len(vms), failures)
    return Snapshot(
        meta=SnapshotMeta(
            taken_at=f"2026-05-{day:02d}T02:00:00Z", endpoint="test", tool_version="t"
        ),
        services=(ServiceSnapshot(SERVICE, {"serviceName": SERVICE}, (dc,)),),
        coverage=coverage,
    )


@pytest.fixture
def observed(tmp_path: Path) -> Path:
    """A month's observations recorded through the `observe` path."""
    out = tmp_path / "out"
    for day in DAYS:
        snapshot = snapshot_of(day)
        record_day(out, snapshot, encode_snapshot(snapshot), date(2026, 5, day))
    return out


def test_observations_counted_by_hand(observed: Path) -> None:
    last = snapshot_of(10)
    with HistoryStore.open(observed / HISTORY_FILE) as store:
        stored = store.observations("2026-05-01", "2026-05-31")
    exposure = period_exposure(stored, PERIOD, date(2026, 5, 10), vm_states(inventory_of(last)))
    assert exposure.source is Source.OBSERVATIONS
    assert exposure.period_days == 31
    assert exposure.days_observed == 9
    assert exposure.missing_days == ("2026-05-04",)
    assert exposure.incomplete_days == ("2026-05-06",)
    by_vm = {vm.vm_id: vm for vm in exposure.vms}
    assert set(by_vm) == {1, 2, 3, 4, 5}  # the Linux VM has nothing to expose
    days = {
        vm_id: (v.days_observed, v.days_powered_on, v.days_unlicensed) for vm_id, v in by_vm.items()
    }
    assert days == {1: (9, 9, 0), 2: (9, 9, 4), 3: (3, 3, 3), 4: (9, 0, 0), 5: (9, 0, 0)}
    assert (by_vm[2].first_unlicensed, by_vm[2].last_unlicensed) == ("2026-05-01", "2026-05-05")
    assert (by_vm[3].first_unlicensed, by_vm[3].last_unlicensed) == ("2026-05-03", "2026-05-07")
    assert by_vm[3].license is None and by_vm[3].name == "vm-3"
    assert exposure.facts is not None and exposure.facts[(SERVICE, 1, 6)].days_powered_on == 9
    billed = {vm_id: vm.billed for vm_id, vm in by_vm.items()}
    assert billed == {1: (LICENCE,), 2: (LICENCE,), 3: (), 4: (), 5: ()}
    assert exposure.facts[(SERVICE, 1, 4)].carried == (LICENCE,)  # carried, never billed
    assert [vm.vm_id for vm in exposure.vms if vm.shortfall] == [3]
    [shortfall] = exposure.shortfalls()
    assert (shortfall.vm_id, shortfall.vm_name, shortfall.days_unlicensed) == (3, "vm-3", 3)
    [row] = exposure.licences
    assert (row.license, row.peak_vms, row.licence_days) == (LICENCE, 3, 23)
    assert (row.billed_vms, row.billed_vcpus) == (2, 4)
    inventory = inventory_of(last)
    rows = licences(licence_usage(inventory), inventory, exposure)
    [position] = [r for r in rows if r.license == LICENCE]
    assert (position.vms_at_close, position.peak_vms, position.licence_days) == (3, 3, 23)


def test_days_outside_the_period_do_not_count(observed: Path) -> None:
    snapshot = snapshot_of(10)
    record_day(observed, snapshot, encode_snapshot(snapshot), date(2026, 6, 1))
    with HistoryStore.open(observed / HISTORY_FILE) as store:
        stored = store.observations("2026-05-01", "2026-05-31")
    exposure = period_exposure(stored, PERIOD, date(2026, 6, 1), vm_states(inventory_of(snapshot)))
    assert exposure.days_observed == 9
    # The period is over: every unobserved day of it is missing.
    assert len(exposure.missing_days) == 31 - 9


def test_without_observations_the_snapshot_alone(tmp_path: Path) -> None:
    snapshot = snapshot_of(10)
    with HistoryStore.open(tmp_path / HISTORY_FILE) as store:
        stored = store.observations("2026-05-01", "2026-05-31")
    exposure = period_exposure(stored, PERIOD, date(2026, 6, 1), vm_states(inventory_of(snapshot)))
    assert exposure.source is Source.SNAPSHOT and exposure.notice is not None
    assert exposure.observed_days == () and exposure.missing_days == ()
    [row] = exposure.licences
    assert (row.peak_vms, row.licence_days) == (3, 3)


def test_monthly_run_over_the_observations(observed: Path, tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json.gz"
    write_snapshot(snapshot_of(10), path)
    result = run_job(
        JobSpec(out_dir=observed, period=Period(2026, 5), source=SnapshotSource(from_file=path))
    )
    hits = {(f.rule_id, f.vm_id): f.message for f in result.report.findings}
    # VM 2 ran unlicensed days 1-5 but carried its licence on powered-on days after: billed.
    assert "2026-05-01 to 2026-05-05" in hits[("WIN-UNLICENSED-INTERIM", 2)]
    # VM 3 ran unlicensed and was billed nothing: a shortfall, though deleted since.
    assert (
        "billed for no licence value; it is deleted at the snapshot" in hits[("WIN-UNLICENSED", 3)]
    )
    assert ("LIC-POWERED-OFF", 4) in hits
    assert ("WIN-UNLICENSED-OFF", 5) in hits
    assert sorted(rule for rule in hits if rule[0].startswith("WIN-UNLICENSED")) == [
        ("WIN-UNLICENSED", 3),
        ("WIN-UNLICENSED-INTERIM", 2),
        ("WIN-UNLICENSED-OFF", 5),
    ]
    # The plan sets no licence on a VM that is not powered on at the snapshot (3 is deleted).
    changes = [a for a in result.plan.actions if a.action is ActionKind.SET_LICENSE]
    assert changes == []
    [deleted] = [a for a in result.plan.actions if a.vm_id == 3]
    assert (
        deleted.action is ActionKind.MANUAL and "not powered on at the snapshot" in deleted.reason
    )
    assert [(item.vm_id, item.days_unlicensed) for item in result.report.shortfalls] == [(3, 3)]
    document = json.loads((result.run_dir / "findings.json").read_text())
    assert document["exposure"]["days_observed"] == 9
    assert document["exposure"]["licences"] == [
        {
            "service_name": SERVICE,
            "datacenter_id": 1,
            "license": LICENCE,
            "peak_vms": 3,
            "licence_days": 23,
            "billed_vms": 2,
            "billed_vcpus": 4,
        }
    ]
    vm_3 = next(vm for vm in document["exposure"]["vms"] if vm["vm_id"] == 3)
    assert (vm_3["billed"], vm_3["shortfall"]) == ([], True)
    # The analysts' way in reads the same figures back.
    assert frames.exposure(result.run_dir).set_index("vm_id").loc[3, "days_unlicensed"] == 3
    assert frames.licences(result.run_dir).set_index("license").loc[LICENCE, "licence_days"] == 23
    observations = frames.observations(observed, "2026-05")
    assert len(observations) == sum(len(fleet_on(day)) for day in DAYS) - 1  # VM 3 unread
    assert observations.groupby("day").size()["2026-05-06"] == 5
    assert len(frames.findings(result.run_dir)) == len(result.report.findings)
    assert set(frames.inventory(result.run_dir)["vmId"]) == {1, 2, 3, 4, 5, 6}


def with_vm_5_on(snapshot: Snapshot) -> Snapshot:
    dc = snapshot.services[0].datacenters[0]
    vms = tuple({**raw, "powerState": "poweredOn"} if raw["vmId"] == 5 else raw for raw in dc.vms)
    return replace(
        snapshot,
        services=(replace(snapshot.services[0], datacenters=(replace(dc, vms=vms),)),),
    )


def test_a_vm_on_one_day_is_a_shortfall_but_not_planned(observed: Path, tmp_path: Path) -> None:
    """VM 5 started unlicensed on one observed day: WIN-UNLICENSED (a shortfall); powered off
    at the snapshot, it gets no licence from the plan (it would be billed while off)."""
    started = with_vm_5_on(snapshot_of(9))
    record_day(observed, started, encode_snapshot(started), date(2026, 5, 9))
    path = tmp_path / "snapshot.json.gz"
    write_snapshot(snapshot_of(10), path)
    result = run_job(
        JobSpec(out_dir=observed, period=Period(2026, 5), source=SnapshotSource(from_file=path))
    )
    rules = {(f.rule_id, f.vm_id) for f in result.report.findings}
    assert ("WIN-UNLICENSED", 5) in rules and ("WIN-UNLICENSED-OFF", 5) not in rules
    assert [a for a in result.plan.actions if a.action is ActionKind.SET_LICENSE] == []
    [manual] = [a for a in result.plan.actions if a.vm_id == 5]
    assert "power state poweredOff" in manual.reason
    # Powered on at the snapshot, it gets the licence.
    write_snapshot(with_vm_5_on(snapshot_of(10)), path)
    result = run_job(
        JobSpec(out_dir=observed, period=Period(2026, 5), source=SnapshotSource(from_file=path))
    )
    changes = [a.vm_id for a in result.plan.actions if a.action is ActionKind.SET_LICENSE]
    assert changes == [5]


def test_observe_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    path = tmp_path / "snapshot.json.gz"
    write_snapshot(snapshot_of(6), path)
    args = ["observe", "--from-snapshot", str(path), "--out", str(out)]
    assert main(args) == 3  # incomplete, recorded with its coverage
    assert (out / "observations" / "2026-05-06.json.gz").is_file()
    assert main([*args, "--date", "2026-05-07"]) == 3
    assert "2026-05-07 recorded" in capsys.readouterr().out
    assert main([*args, "--date", "2026-05-07"]) == 3
    assert "2026-05-07 replaced" in capsys.readouterr().out
    with sqlite3.connect(out / HISTORY_FILE) as db:
        rows = db.execute("SELECT day, vms, coverage FROM observation ORDER BY day").fetchall()
    assert [(day, vms) for day, vms, _ in rows] == [("2026-05-06", 5), ("2026-05-07", 5)]
    assert json.loads(rows[0][2])["complete"] is False
    assert main([*args, "--date", "2999-01-01"]) == 2
    assert "a future day" in capsys.readouterr().err
    assert main([*args, "--date", "2026-5-7"]) == 2


def test_an_incomplete_observation_never_replaces_a_complete_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    complete, partial = tmp_path / "complete.json.gz", tmp_path / "partial.json.gz"
    write_snapshot(snapshot_of(5), complete)
    write_snapshot(snapshot_of(6), partial)  # VM 3 could not be read
    observe = ["observe", "--out", str(out), "--date", "2026-05-08", "--from-snapshot"]
    assert main([*observe, str(complete)]) == 0
    kept = (out / "observations" / "2026-05-08.json.gz").read_bytes()
    capsys.readouterr()
    assert main([*observe, str(partial)]) == 3
    assert "2026-05-08 NOT recorded" in capsys.readouterr().out
    assert (out / "observations" / "2026-05-08.json.gz").read_bytes() == kept
    with HistoryStore.open(out / HISTORY_FILE) as store:
        assert store.observation_complete("2026-05-08") is True
        # The run's own snapshot of that day is no better: the complete observation stays.
        with store.write():
            record = observation_of(
                inventory_of(snapshot_of(6)), "x", date(2026, 5, 8), "run", "now"
            )
            assert store.record_observation(record) is False
        assert store.observation_complete("2026-05-08") is True


@pytest.mark.slow
def test_a_year_of_observations_stays_small(tmp_path: Path) -> None:
    """Unchanged days store only a compressed list of ids: 60 days of 2,000 VMs."""
    vms = [api_vm(i, SERVER, LICENCE) for i in range(1, 2001)]
    dc = DatacenterSnapshot(1, {}, tuple(range(1, 2001)), tuple(vms), ())
    snapshot = Snapshot(
        meta=SnapshotMeta(taken_at="2026-05-01T00:00:00Z", endpoint="t", tool_version="t"),
        services=(ServiceSnapshot(SERVICE, {}, (dc,)),),
    )
    states = vm_states(inventory_of(snapshot))
    with HistoryStore.open(tmp_path / HISTORY_FILE) as store, store.write():
        for offset in range(60):
            day = date.fromordinal(date(2026, 1, 1).toordinal() + offset)
            record = observation_of(inventory_of(snapshot), "0" * 64, day, "observe", "now")
            assert record.vms == states
            store.record_observation(record)
    with sqlite3.connect(tmp_path / HISTORY_FILE) as db:
        assert db.execute("SELECT count(*) FROM vm_state").fetchone()[0] == 2000
        blob = db.execute("SELECT max(length(states)) FROM observation").fetchone()[0]
    assert blob < 200  # 2,000 consecutive ids compress to a few dozen bytes


def test_reports_show_the_exposure(observed: Path, tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json.gz"
    write_snapshot(snapshot_of(10), path)
    result = run_job(
        JobSpec(out_dir=observed, period=Period(2026, 5), source=SnapshotSource(from_file=path))
    )
    html = (result.run_dir / "report.html").read_text()
    section = html[html.index('<section id="exposure">') :]
    section = section[: section.index("</section>")]
    assert "9 of the period&#39;s 31 days observed (1 missing so far, 1 incomplete)" in section
    assert '<a href="#exposure">Exposure</a>' in html
    assert "2026-05-04" in section and "2026-05-06" in section
    appendix = html[html.index('<section id="appendix-position">') :]
    assert '<td class="num">23</td>' in appendix[: appendix.index("</section>")]
    assert "VM 3" in section and "snapshot alone" not in section
    assert "billing guide, updated 2024-03-21" in section and "is not seen" in section
    assert "<th>Shortfall</th>" in section and "yes: billed nothing" in section
    sheet = load_workbook(result.run_dir / "report.xlsx", read_only=True)["Exposure"]
    rows = [row for row in sheet.iter_rows(values_only=True) if any(row)]
    [rule] = [row for row in rows if row[0] == "Billing rule"]
    assert "updated 2024-03-21" in rule[1]
    assert (SERVICE, 1, "yes", LICENCE, 3, 23, 2, 4) in [row[:8] for row in rows]
    book = load_workbook(result.run_dir / "report.xlsx", read_only=True)
    rows = [row for row in book["Exposure by VM"].iter_rows(values_only=True) if any(row)]
    per_vm = {row[2]: row[6:9] for row in rows if row[0] == SERVICE and isinstance(row[2], int)}
    assert per_vm == {1: (9, 9, 0), 2: (9, 9, 4), 3: (3, 3, 3), 4: (9, 0, 0), 5: (9, 0, 0)}
    billed = {row[2]: row[11:13] for row in rows if row[0] == SERVICE and isinstance(row[2], int)}
    assert billed[1] == (LICENCE, "no") and billed[3] == (None, "yes")


def test_reports_say_when_the_snapshot_alone_was_used(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json.gz"
    write_snapshot(snapshot_of(10), path)  # taken 2026-05-10, run for April: outside
    result = run_job(
        JobSpec(
            out_dir=tmp_path / "out", period=Period(2026, 4), source=SnapshotSource(from_file=path)
        )
    )
    assert result.report.exposure is not None
    assert result.report.exposure.source is Source.SNAPSHOT
    html = (result.run_dir / "report.html").read_text()
    assert "the snapshot alone was used" in html
    sheet = load_workbook(result.run_dir / "report.xlsx", read_only=True)["Exposure"]
    text = " ".join(str(cell) for row in sheet.iter_rows(values_only=True) for cell in row)
    assert "the snapshot alone was used" in text


def test_first_seen_on_is_the_first_day_the_vm_ran_unlicensed(
    observed: Path, tmp_path: Path
) -> None:
    """Issue 21: a finding new in this run is dated by the first observed day its condition
    held (VM 3 ran unlicensed from 3 May), not by the run's snapshot (10 May)."""
    path = tmp_path / "snapshot.json.gz"
    write_snapshot(snapshot_of(10), path)
    result = run_job(
        JobSpec(out_dir=observed, period=PERIOD, source=SnapshotSource(from_file=path))
    )
    findings = json.loads((result.run_dir / "findings.json").read_text())["findings"]
    seen = {(f["vm_id"], f["rule_id"]): f["first_seen"] for f in findings}
    assert seen[(3, "WIN-UNLICENSED")] == {"period": "2026-05", "date": "2026-05-03"}
    others = [date for key, date in seen.items() if key != (3, "WIN-UNLICENSED")]
    assert others and all(date == {"period": "2026-05", "date": "2026-05-10"} for date in others)
    book = load_workbook(result.run_dir / "report.xlsx", read_only=True)
    rows = list(book["Findings"].iter_rows(values_only=True))
    column = rows[0].index("First seen on")
    [row] = [r for r in rows[1:] if r[1] == 3 and r[2] == "WIN-UNLICENSED"]
    assert str(row[column])[:10] == "2026-05-03"
