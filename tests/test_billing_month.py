"""What the month should have cost: a month of observations counted by hand.

OVHcloud bills a Windows licence for the whole month to every VM that carried it on a day it
was powered on. Period 2026-11, one datacenter, observed on days 1, 5, 10, 15, 20, 25 and 30;
the monthly run is the cron one of 2026-12-01 (its snapshot lies outside the period, so the
observations alone count; the snapshot is the day-30 fleet, but VM 10 got a licence that
morning).

    VM  guest        licence over the month                     power             vCPUs
    1   2019         'windows 2019 Standard'                    on                4, 8 from day 20
    2   2019         none; created day 5, deleted from day 20   on                2
    3   2022         none days 1, 5; 'windows 2022 Standard'    on                2
    4   2019         'windows 2019 Standard SQL2019 Standard'   on                4
                     days 1-20, none from day 25
    5   2019         'windows 2019 Standard'                    off               2
    6   2019         'windows 2019 Datacenter'; deleted from    on days 1-10      2
                     day 15 with its licence kept
    7   2019         none                                       on day 15 only    2
    8   Linux        none                                       on                1
    9   2012         'windows 2016 Standard' (newer: SPLA       on                2
                     down-version)
    10  2019         none all month; licensed on December 1st   on                4

Counted by hand:
    billed (carried on a day powered on): 2019 Standard: VM 1 (8 vCPUs, its most on such a
        day; VM 5 never ran, VM 10 was licensed after the period); 2022 Standard: VM 3 (2);
        2019 Standard SQL2019 Standard: VM 4 (4); 2019 Datacenter: VM 6 (2); 2016 Standard:
        VM 9 (2). Totals: 5 licences billed, 18 vCPUs.
    shortfall (ran unlicensed, billed nothing): VM 2 (days 5, 10, 15: 3), VM 7 (day 15: 1),
        VM 10 (7 days). VM 3 ran unlicensed 2 days and VM 4 2 days, but both are billed.
    findings: WIN-UNLICENSED 2 (a, deleted), 4 (b: unlicensed and on at the snapshot, billed
        for its bundle), 7 (a, off at the snapshot), 10 (a, licensed since);
        WIN-UNLICENSED-INTERIM 3; LIC-POWERED-OFF 5; LIC-DELETED-DECLARED 6;
        LIC-VERSION-DOWNGRADE 9; nothing else.
    plan: setLicense only for VM 4, with the SQL Server bundle its history shows.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fixtures_history import edit, snapshot
from fixtures_history import vm as history_vm

from audit.cli.main import main
from audit.evaluate.position import licence_totals
from audit.exposure.observe import record_day
from audit.history.store import HISTORY_FILE
from audit.job import JobResult, JobSpec, SnapshotSource, run_job
from audit.model.period import Period
from audit.model.snapshot import encode_snapshot, write_snapshot
from audit.runtime.plan import ActionKind

SERVICE = "pcc-192-0-2-9"
W19, W22, W12 = "windows2019srv_64Guest", "windows2019srvNext_64Guest", "windows8Server64Guest"
STD, SQL = "windows 2019 Standard", "windows 2019 Standard SQL2019 Standard"
DAYS = (1, 5, 10, 15, 20, 25, 30)


def vm(vm_id: int, name: str, guest: str, licence: str | None, power: str, cpus: int) -> Any:
    return {**history_vm(vm_id, guest, licence, power, name), "cpuNum": cpus}


def fleet_on(day: int, licensed_10: bool = False) -> list[dict[str, Any]]:
    """The datacenter on a day of November (the table above)."""
    vms = [
        vm(1, "app-01", W19, STD, "poweredOn", 8 if day >= 20 else 4),
        vm(3, "web-03", W22, None if day <= 5 else "windows 2022 Standard", "poweredOn", 2),
        vm(4, "sql-04", W19, SQL if day <= 20 else None, "poweredOn", 4),
        vm(5, "dr-05", W19, STD, "poweredOff", 2),
        vm(6, "old-06", W19, "windows 2019 Datacenter", "poweredOn" if day <= 10 else "deleted", 2),
        vm(7, "batch-07", W19, None, "poweredOn" if day == 15 else "poweredOff", 2),
        vm(8, "lin-08", "debian12_64Guest", None, "poweredOn", 1),
        vm(9, "legacy-09", W12, "windows 2016 Standard", "poweredOn", 2),
        vm(10, "next-10", W19, STD if licensed_10 else None, "poweredOn", 4),
    ]
    if day >= 5:
        vms.append(vm(2, "build-02", W19, None, "deleted" if day >= 20 else "poweredOn", 2))
    return vms


def month(out: Path) -> JobResult:
    """November observed, then the run of 2026-12-01 for November."""
    for day in DAYS:
        observed = snapshot({(SERVICE, 1): fleet_on(day)}, f"2026-11-{day:02d}T02:00:00Z")
        record_day(out, observed, encode_snapshot(observed), date(2026, 11, day))
    return run(out, "2026-11", fleet_on(30, licensed_10=True), "2026-12-01T03:00:00Z")


def run(out: Path, period: str, vms: list[dict[str, Any]], taken_at: str) -> JobResult:
    path = out.parent / f"{period}.json.gz"
    write_snapshot(snapshot({(SERVICE, 1): vms}, taken_at), path)
    # The runs of later months happen on their own day (a snapshot after today is refused).
    today = date.fromisoformat(taken_at[:10])
    source = SnapshotSource(from_file=path)
    spec = JobSpec(out_dir=out, period=Period.from_label(period), source=source, today=today)
    return run_job(spec)


def test_a_month_counted_by_hand(tmp_path: Path) -> None:
    result = month(tmp_path / "out")
    report = result.report
    assert report.exposure is not None and report.exposure.days_observed == 7
    billed = {row.license: (row.billed_vms, row.billed_vcpus) for row in report.licences}
    assert billed == {
        STD: (1, 8),
        "windows 2022 Standard": (1, 2),
        SQL: (1, 4),
        "windows 2019 Datacenter": (1, 2),
        "windows 2016 Standard": (1, 2),
    }
    [*_, overall] = licence_totals(report.licences)
    assert (overall.billed_vms, overall.billed_vcpus) == (5, 18)
    # The SQL bundle and the Datacenter licence were billed though no VM carries them at close.
    at_close = {row.license: row.vms_at_close for row in report.licences}
    assert at_close[SQL] == 0 and at_close["windows 2019 Datacenter"] == 0
    shortfalls = {item.vm_id: (item.vm_name, item.days_unlicensed) for item in report.shortfalls}
    assert shortfalls == {2: ("build-02", 3), 7: ("batch-07", 1), 10: ("next-10", 7)}
    found = {(f.rule_id, f.vm_id): f.message for f in report.findings}
    assert sorted(found) == [
        ("LIC-DELETED-DECLARED", 6),
        ("LIC-POWERED-OFF", 5),
        ("LIC-VERSION-DOWNGRADE", 9),
        ("WIN-UNLICENSED", 2),
        ("WIN-UNLICENSED", 4),
        ("WIN-UNLICENSED", 7),
        ("WIN-UNLICENSED", 10),
        ("WIN-UNLICENSED-INTERIM", 3),
    ]
    assert (
        "(2026-11-05 to 2026-11-15), billed for no licence value; it is deleted"
        in found[("WIN-UNLICENSED", 2)]
    )
    assert f"OVHcloud bills the period for '{SQL}'" in found[("WIN-UNLICENSED", 4)]
    assert "it is powered off at the snapshot" in found[("WIN-UNLICENSED", 7)]
    assert (
        "7 observed day(s) of the period (2026-11-01 to 2026-11-30)"
        in found[("WIN-UNLICENSED", 10)]
    )
    assert f"it now carries '{STD}'" in found[("WIN-UNLICENSED", 10)]
    assert (
        "'windows 2022 Standard', carried on another powered-on day"
        in found[("WIN-UNLICENSED-INTERIM", 3)]
    )
    [change] = [a for a in result.plan.actions if a.action is ActionKind.SET_LICENSE]
    assert (change.vm_id, change.target_license) == (4, SQL)


def test_the_next_months_list_the_shortfall_until_it_is_settled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    month(out)
    # December: VM 4 got its bundle back after the run of the 1st (which observed it without
    # one: billed for the month all the same), VM 7 stays off; nothing ran unbilled.
    december = fleet_on(30, licensed_10=True)
    december[2] = vm(4, "sql-04", W19, SQL, "poweredOn", 4)
    observed = snapshot({(SERVICE, 1): december}, "2026-12-15T02:00:00Z")
    record_day(out, observed, encode_snapshot(observed), date(2026, 12, 15))
    dec = run(out, "2026-12", december, "2027-01-01T03:00:00Z").report
    assert dec.shortfalls == ()
    assert ("WIN-UNLICENSED-INTERIM", 4) in {(f.rule_id, f.vm_id) for f in dec.findings}
    listed = {(item.period, item.shortfall.vm_id) for item in dec.unsettled_shortfalls}
    assert listed == {("2026-11", 2), ("2026-11", 7), ("2026-11", 10)}
    # VM 10 is no WIN-UNLICENSED finding in December, yet November's unbilled month stays.
    assert ("WIN-UNLICENSED", 10) not in {(f.rule_id, f.vm_id) for f in dec.findings}

    reviewed = edit(
        out / "2026-11" / "report.xlsx",
        tmp_path / "november.xlsx",
        {
            (2, "WIN-UNLICENSED"): ("settled", "finance", "Declared, invoice 2026-12"),
            (10, "WIN-UNLICENSED"): ("settled", "finance", None),
            (7, "WIN-UNLICENSED"): ("accepted", "ops", "Batch job, to declare"),
        },
    )
    assert main(["import-review", str(reviewed), "--history", str(out / HISTORY_FILE)]) == 0
    capsys.readouterr()
    january = run(out, "2027-01", december, "2027-02-01T03:00:00Z").report
    [left] = january.unsettled_shortfalls
    assert (left.period, left.shortfall.vm_id, left.shortfall.days_unlicensed) == ("2026-11", 7, 1)
    assert (left.review_status, left.owner) == ("accepted", "ops")
    document = january.to_json()
    assert document["unsettled_shortfalls"] == [
        {
            "service_name": SERVICE,
            "datacenter_id": 1,
            "vm_id": 7,
            "vm_name": "batch-07",
            "guest_os_family": W19,
            "days_unlicensed": 1,
            "period": "2026-11",
            "review_status": "accepted",
            "owner": "ops",
        }
    ]
