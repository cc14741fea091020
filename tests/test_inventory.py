"""The typed inventory: every VM and vmLicensed entry of a snapshot parsed once, with where it
sits and what coverage failures hide, and the snapshot's time parsed once."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from audit.evaluate.inventory import inventory_of
from audit.model.identity import VmKey, fingerprint
from audit.model.period import Period
from audit.model.snapshot import (
    Coverage,
    DatacenterSnapshot,
    Failure,
    Scope,
    ServiceSnapshot,
    Snapshot,
    SnapshotMeta,
)
from audit.support.timestamps import parse_timestamp, parse_utc, utc_day
from tests.helpers.vms import PLACED, api_vm, licensed_entry

S = "pcc-192-0-2-1"
WIN = "windows2019srv_64Guest"
W19 = "windows 2019 Standard"


def snapshot(*datacenters: DatacenterSnapshot, taken_at: str = "2026-05-31T23:30:00Z",
             failures: tuple[Failure, ...] = ()) -> Snapshot:  # fmt: skip
    return Snapshot(
        meta=SnapshotMeta(taken_at=taken_at, endpoint="test", tool_version="test"),
        services=(ServiceSnapshot(S, {"serviceName": S}, datacenters),),
        coverage=Coverage(failures=failures),
    )


def test_every_vm_is_read_once_with_its_placement_and_interpretation() -> None:
    vms = (
        api_vm(1, WIN, W19, name="sql-01", **PLACED),
        api_vm(2, WIN, None, power="deleted", cpuNum="8"),
        api_vm(3, "debian12_64Guest", None, cpuNum=True, powerState=None),
    )
    listing = (licensed_entry(1, W19, "windows2019srvNext_64Guest"), licensed_entry(1, "x"))
    dc = DatacenterSnapshot(1, {"name": "dc-one"}, (1, 2, 3, 4), vms, listing)
    inventory = inventory_of(snapshot(dc))
    (record,) = inventory.datacenters
    ids = frozenset({1, 2, 3, 4})
    assert (record.name, record.known_vm_ids, record.listed_vm_ids) == ("dc-one", ids, ids)
    first, second, third = record.vms
    assert (
        first.key == VmKey(S, 1, 1)
        and first.api_license == W19
        and first.licence.is_windows_edition
    )
    assert (first.folder, first.cluster, first.host, first.memory_mb) == (
        "Prod",
        "Cluster1",
        "172.16.0.11",
        8192,
    )
    # The first vmLicensed entry of a VM is its entry (the Tools' guest OS beside the VM's).
    assert (
        first.licensed is not None
        and first.licensed.guest_os_family == "windows2019srvNext_64Guest"
    )
    assert second.deleted and second.vcpus == 8 and second.vcpu_count == 8
    assert third.vcpus is None and third.vcpu_count == 0 and third.power_state is None
    assert third.powered_on  # null counts as on, as the rules say
    assert list(inventory.by_key) == [VmKey(S, 1, 1), VmKey(S, 1, 2), VmKey(S, 1, 3)]


def test_coverage_failures_say_what_is_hidden() -> None:
    listed = DatacenterSnapshot(1, None, (1, 2), (api_vm(1, WIN, None),), None)
    unread_list = DatacenterSnapshot(2, None, (), (), ())
    failures = (
        Failure(Scope.VM, "/vm/2", "503", S, 1, 2),
        Failure(Scope.VM_LICENSED, "/vmLicensed", "500", S, 1),
        Failure(Scope.DATACENTER, "/dc/2/vm", "timeout", S, 2),
    )
    inventory = inventory_of(snapshot(listed, unread_list, failures=failures))
    one, two = inventory.datacenters
    assert one.listing_trusted and not two.listing_trusted and two.listed_vm_ids is None
    assert one.vms[0].listing_read is False  # vmLicensed not read: no drift can be judged
    unread = inventory.unread
    assert unread.vm(S, 1, 2) and not unread.vm(S, 1, 1)
    assert unread.vm(S, 2, 99) and unread.vm_or_listing(S, 1, 1)
    assert not unread.service(S)


def test_the_snapshot_day_is_its_utc_day_everywhere() -> None:
    late = "2026-06-01T01:30:00+02:00"  # 31 May 23:30 UTC
    inventory = inventory_of(snapshot(taken_at=late))
    assert inventory.taken_at == datetime(2026, 5, 31, 23, 30, tzinfo=UTC)
    assert inventory.day == date(2026, 5, 31) == utc_day(parse_timestamp(late))
    assert Period(2026, 5).outside_notice(inventory.taken_at) is None
    assert parse_utc("2026-05-31T23:30:00") == datetime(2026, 5, 31, 23, 30, tzinfo=UTC)
    assert parse_utc("not a date") is None and parse_utc(None) is None


def test_one_fingerprint_and_one_period_label() -> None:
    assert fingerprint(S, 1, None, "EXC-STALE") == f"{S}|1|None|EXC-STALE"
    assert Period.from_label("2026-05") == Period(2026, 5)
    with pytest.raises(ValueError):
        Period.from_label("2026-13")
