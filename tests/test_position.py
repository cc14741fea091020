"""The licence position against a hand-counted fleet, and the Control Panel's counters."""

from __future__ import annotations

from typing import Any

from audit.evaluate.inventory import inventory_of
from audit.evaluate.position import control_panel, licence_totals, licence_usage, licences
from audit.model.exposure import Exposure, LicenceExposure, Source
from audit.model.position import ControlPanelRow, LicenceRow, LicenceTotal
from audit.model.snapshot import DatacenterSnapshot, ServiceSnapshot, Snapshot, SnapshotMeta
from tests.helpers.vms import api_vm, licensed_entry

A, B = "pcc-192-0-2-1", "pcc-198-51-100-2"
W19, W22D = "windows 2019 Standard", "windows 2022 Datacenter"


def position_of(snapshot: Snapshot, exposure: Exposure | None = None) -> tuple[LicenceRow, ...]:
    inventory = inventory_of(snapshot)
    return licences(licence_usage(inventory), inventory, exposure)


def dc(
    dc_id: int, vms: list[Any], vm_licensed: list[Any] | None, vm_ids: list[int] | None = None
) -> DatacenterSnapshot:
    return DatacenterSnapshot(
        datacenter_id=dc_id,
        details={"datacenterId": dc_id},
        vm_ids=tuple(vm_ids if vm_ids is not None else [v["vmId"] for v in vms]),
        vms=tuple(vms),
        vm_licensed=None if vm_licensed is None else tuple(vm_licensed),
    )


def fleet() -> Snapshot:
    a1 = [
        api_vm(1, "windows2019srv_64Guest", W19, cpus=4),
        api_vm(2, "windows2019srv_64Guest", W19, cpus=2, powerState="poweredOff"),
        api_vm(3, "windows2019srv_64Guest", W19, cpus=8, powerState="deleted"),  # not counted
        api_vm(4, "rhel9_64Guest", W22D, cpus=2),
        api_vm(5, "winNetStandard64Guest", None),  # Windows Server 2003: ours, not the panel's
        api_vm(6, "winLonghorn64Guest", "windows 2008 R2 Standard", cpus=1),  # legacy: billed
        api_vm(7, "windows9_64Guest", "OVHcloud managed"),
        api_vm(8, "windows2019srv_64Guest", "unlicensed windows guestos"),
        api_vm(9, "windows9Server64Guest", None, powerState="deleted"),
        api_vm(10, "WINDOWS2019SRV_64GUEST", W19, cpus=2),  # any case
        api_vm(11, "winNetEnterprise64Guest", None),
    ]
    a1_listing = [
        licensed_entry(i, W19) for i in (1, 2, 3, 10, 99)
    ]  # 99: a VM the DC does not list
    a1_listing += [
        licensed_entry(4, W22D),
        licensed_entry(6, "windows 2008 R2 Standard"),
        licensed_entry(7, "OVHcloud managed"),
        licensed_entry(8, "unlicensed windows guestos"),
        licensed_entry(98, "windows 2016 Standard"),  # a value only vmLicensed names
    ]
    a2 = [api_vm(21, "windows2019srv_64Guest", W19, cpus=4), api_vm(22, "debian12_64Guest", None)]
    b1 = [api_vm(31, "windows2019srvNext_64Guest", "windows 2022 Standard", cpus=16)]
    return Snapshot(
        meta=SnapshotMeta(taken_at="2026-11-01T02:00:00Z", endpoint="test", tool_version="test"),
        services=(
            ServiceSnapshot(
                A,
                {"serviceName": A},
                (dc(1, a1, a1_listing), dc(2, a2, None, vm_ids=[21, 22, 23])),
            ),
            ServiceSnapshot(
                B, {"serviceName": B}, (dc(1, b1, [licensed_entry(31, "windows 2022 Standard")]),)
            ),
        ),
    )


def row(
    service: str,
    dc_id: int,
    value: str,
    billable: bool,
    vms: int,
    vcpus: int,
    listed: int | None,
    billed: tuple[int, int] = (0, 0),
) -> LicenceRow:
    return LicenceRow(service, dc_id, value, billable, vms, vcpus, vms, vms, listed, *billed)


def test_licence_rows_by_hand() -> None:
    # Without observations the snapshot is the period: billed are the VMs powered on with a
    # billable value (VM 2 is off, OVHcloud managed and unlicensed are not billed).
    assert position_of(fleet()) == (
        row(A, 1, "windows 2008 R2 Standard", True, 1, 1, 1, (1, 1)),
        row(A, 1, "windows 2016 Standard", True, 0, 0, 1),
        row(A, 1, W19, True, 3, 8, 5, (2, 6)),  # VMs 1, 2, 10; deleted 3 out, listed 3 and 99
        row(A, 1, W22D, True, 1, 2, 1, (1, 2)),
        row(A, 1, "OVHcloud managed", False, 1, 2, 1),
        row(A, 1, "unlicensed windows guestos", False, 1, 2, 1),
        row(A, 2, W19, True, 1, 4, None, (1, 4)),  # vmLicensed unread
        row(B, 1, "windows 2022 Standard", True, 1, 16, 1, (1, 16)),
    )


def test_totals_per_service_per_licence_and_overall() -> None:
    assert licence_totals(position_of(fleet())) == (
        LicenceTotal(A, None, 6, 15, 6, 8, 5, 13),
        LicenceTotal(B, None, 1, 16, 1, 1, 1, 16),
        LicenceTotal(None, "windows 2008 R2 Standard", 1, 1, 1, 1, 1, 1),
        LicenceTotal(None, "windows 2016 Standard", 0, 0, 0, 1, 0, 0),
        LicenceTotal(None, W19, 4, 12, 4, 5, 3, 10),
        LicenceTotal(None, W22D, 1, 2, 1, 1, 1, 2),
        LicenceTotal(None, "windows 2022 Standard", 1, 16, 1, 1, 1, 16),
        LicenceTotal(None, None, 7, 31, 7, 9, 6, 29),
    )
    assert licence_totals(()) == (LicenceTotal(None, None, 0, 0, 0, 0),)


def test_billed_values_come_from_the_period_and_keep_their_rows() -> None:
    """A value billed during the period has its row though no VM carries it at close, also in
    a datacenter the snapshot no longer has; the billed figures are the period's."""
    period = (
        LicenceExposure(A, 1, W19, 4, 90, 3, 10),
        LicenceExposure(A, 1, "windows 2025 Standard", 1, 12, 1, 8),  # carried mid-month only
        LicenceExposure(A, 7, W22D, 1, 3, 1, 2),  # datacenter 7 is gone at the snapshot
        LicenceExposure(A, 8, W22D, 1, 3, 0, 0),  # carried while off: nothing billed, no row
    )
    exposure = Exposure(Source.OBSERVATIONS, 30, (), (), (), period, ())
    rows = {(r.service_name, r.datacenter_id, r.license): r for r in position_of(fleet(), exposure)}
    assert rows[(A, 1, W19)].billed_vms == 3 and rows[(A, 1, W19)].billed_vcpus == 10
    added = rows[(A, 1, "windows 2025 Standard")]
    assert (added.vms_at_close, added.peak_vms, added.billed_vms, added.billed_vcpus) == (
        0,
        1,
        1,
        8,
    )
    gone = rows[(A, 7, W22D)]
    assert (gone.vms_at_close, gone.vmlicensed_at_close, gone.billed_vms) == (0, None, 1)
    assert (A, 8, W22D) not in rows
    # Values the period never saw carried (vmLicensed's only, or not billed) bill nothing.
    assert rows[(A, 1, "windows 2016 Standard")].billed_vms == 0
    assert list(rows)[-1] == (A, 7, W22D)  # after the snapshot's datacenters


def test_a_findings_json_row_written_before_billed_figures_reads_as_unknown() -> None:
    data = position_of(fleet())[0].to_json()
    del data["billed_vms"], data["billed_vcpus"]
    older = LicenceRow.from_json(data)
    assert (older.billed_vms, older.billed_vcpus) == (None, None)
    [*_, overall] = licence_totals((older,))
    assert (overall.vms_at_close, overall.billed_vms) == (1, 0)


def test_control_panel_counters_on_old_guest_ids() -> None:
    a1, a2, b1 = control_panel(inventory_of(fleet()))
    # vms: 11 listed; windows_vms: 1, 2, 3, 7, 8, 9, 10; declared: 1, 2, 3, 4, 6, 7, 8, 10;
    # ours: 1, 2, 5, 6, 7, 8, 10, 11 (winNet*/winLonghorn* in, deleted 3 and 9 out).
    assert a1 == ControlPanelRow(A, 1, 11, 7, 8, 8, 3, 2, 11)
    assert a1.windows_guests == a1.windows_vms - a1.deleted_windows_vms + a1.older_windows_ids
    assert a1.difference() == (
        "We count 3 guest(s) with older Windows ids (winNet*, winLonghorn*, ...) that the "
        "Control Panel does not count as Windows; the Control Panel counts 2 deleted Windows "
        "VM(s) that we do not evaluate."
    )
    assert a2 == ControlPanelRow(A, 2, 3, 1, 1, 1, 0, 0, 2)
    assert a2.difference() == "1 listed VM(s) could not be read, so neither count includes them."
    assert b1 == ControlPanelRow(B, 1, 1, 1, 1, 1, 0, 0, 1)
    assert b1.difference() is None


def test_json_rows_carry_the_contract_fields() -> None:
    licence = position_of(fleet())[0].to_json()
    assert set(licence) == {
        "service_name",
        "datacenter_id",
        "license",
        "billable",
        "vms_at_close",
        "vcpus_at_close",
        "peak_vms",
        "licence_days",
        "vmlicensed_at_close",
        "billed_vms",
        "billed_vcpus",
    }
    panel = control_panel(inventory_of(fleet()))[0].to_json()
    assert {"service_name", "datacenter_id", "vms", "windows_vms", "declared"} <= set(panel)
    assert panel["windows_guests"] == 8
