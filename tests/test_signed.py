"""The position an auditor signs, counted by hand (audit/evaluate/signed.py): per service and
licence value with totals, and the Windows Server guests that ran, each in one bucket."""

from __future__ import annotations

from audit.evaluate.inventory import inventory_of
from audit.evaluate.signed import PositionLine, WindowsRan, position_lines, windows_ran
from audit.model.exposure import Exposure, Source, VmExposure
from audit.model.findings import Finding, Severity, Status
from audit.model.position import LicenceRow
from tests.helpers.headline import evaluated

W19, W22 = "windows 2019 Standard", "windows 2022 Standard"
A, B = "pcc-a", "pcc-b"
SERVER = "windows2019srv_64Guest"


def row(service: str, dc: int, value: str, billed: int | None, **more: object) -> LicenceRow:
    figures: dict[str, object] = {
        "billable": True,
        "vms_at_close": 2,
        "vcpus_at_close": 4,
        "peak_vms": 3,
        "licence_days": 60,
        "vmlicensed_at_close": 2,
        "billed_vms": billed,
        "billed_vcpus": None if billed is None else billed * 2,
    } | more
    return LicenceRow(service, dc, value, **figures)  # type: ignore[arg-type]


def test_position_lines_sum_the_datacenters_per_service_and_value() -> None:
    rows = [
        row(A, 1, W19, 3),
        row(A, 2, W19, 1, vmlicensed_at_close=None),  # its listing could not be read
        row(A, 1, W22, 2),
        row(A, 1, "OVHcloud managed", 0, billable=False),  # not billed: left out
        row(B, 7, W22, 4, vmlicensed_at_close=5),
    ]
    lines = position_lines(rows)
    assert [(line.service_name, line.license) for line in lines] == [
        (A, W19),
        (A, W22),
        (A, None),
        (B, W22),
        (B, None),
        (None, None),
    ]
    assert lines[0] == PositionLine(A, W19, 4, 8, 6, 4, 2)  # vmLicensed: the one read
    assert lines[2] == PositionLine(A, None, 6, 12, 9, 6, 4)
    assert lines[-1] == PositionLine(None, None, 10, 20, 12, 8, 9)
    assert lines[-1].is_overall and lines[2].is_total and not lines[0].is_total
    # A findings.json written before billed figures: unknown, never 0.
    assert position_lines([row(A, 1, W19, None)])[-1].billed_vms is None
    assert position_lines([]) == (PositionLine(None, None, 0, 0, 0, 0, 0),)


def vm(service: str, vm_id: int, on: int, unlicensed: int, billed: tuple[str, ...]) -> VmExposure:
    return VmExposure(
        service, 1, vm_id, f"vm-{vm_id}", SERVER, billed[0] if billed else None,
        30, on, unlicensed, None, None, billed, 2,
    )  # fmt: skip


def finding(service: str, vm_id: int, rule: str, status: Status = Status.OPEN) -> Finding:
    return Finding(
        rule, Severity.HIGH, status, service, 1, vm_id, None, None, None, SERVER, None, "m"
    )


def test_windows_ran_puts_each_guest_in_one_bucket_the_unbilled_ones_the_headlines() -> None:
    exposure = Exposure(
        Source.OBSERVATIONS,
        30,
        (),
        (),
        (),
        (),
        (
            vm(A, 1, 30, 0, (W19,)),  # billed
            vm(A, 2, 12, 12, ()),  # shortfall: open WIN-UNLICENSED
            vm(A, 3, 0, 0, ()),  # never powered on: did not run
            vm(A, 4, 30, 30, ()),  # covered by a byol exception
            vm(B, 5, 30, 5, (W22,)),  # unlicensed 5 days, billed: interim
            vm(B, 6, 30, 30, ()),  # waived: other
            vm(B, 7, 20, 20, (W19,)),  # billed, yet unlicensed at the snapshot: the headline's
        ),
    )
    findings = (
        finding(A, 2, "WIN-UNLICENSED"),
        finding(A, 4, "WIN-UNLICENSED", Status.BYOL),
        finding(B, 5, "WIN-UNLICENSED-INTERIM"),
        finding(B, 6, "WIN-UNLICENSED", Status.WAIVED),
        finding(B, 7, "WIN-UNLICENSED"),
    )
    snapshot, _ = evaluated()
    per_service, total = windows_ran(inventory_of(snapshot), findings, exposure)
    assert per_service == (
        WindowsRan(A, ran=3, billed=1, byol=1, unbilled=1, unbilled_vm_days=12, other=0),
        WindowsRan(B, ran=3, billed=1, byol=0, unbilled=1, unbilled_vm_days=20, other=1),
    )
    assert total == WindowsRan(None, 6, 2, 1, 2, 32, 1)


def test_without_an_exposure_the_snapshot_says_what_ran() -> None:
    """A findings.json written before exposures: powered on at the snapshot ran, a Windows
    edition is billed; the unbilled are still the open WIN-UNLICENSED findings."""
    snapshot, findings = evaluated()
    inventory = inventory_of(snapshot)
    _, total = windows_ran(inventory, findings, None)
    open_unlicensed = sum(
        1 for f in findings if f.rule_id == "WIN-UNLICENSED" and f.status is Status.OPEN
    )
    running = sum(
        1
        for record in inventory.vms()
        if not record.deleted and record.powered_on and record.guest.kind.value == "windows_server"
    )
    assert total.unbilled == open_unlicensed == 1
    assert total.ran == running and total.ran == total.billed + total.byol + 1 + total.other
