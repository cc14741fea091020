"""The position an auditor signs (DESIGN.md "The position an auditor signs"): per service and
licence value what OVHcloud bills for the period, with totals per service and overall, and the
Windows server guests that ran, of which billed, BYOL and unbilled.

Computed once from the per-datacenter licence rows, the period's exposure and the findings, so
the first page, the workbook's Summary, the mail and the charts quote the same numbers; the
"ran unbilled" count is the headline's own (the open WIN-UNLICENSED findings).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from audit.evaluate.inventory import Inventory
from audit.evaluate.knowledge import GuestKind, LicenceKind, interpret_guest_os
from audit.evaluate.rules import win_unlicensed
from audit.model.exposure import Exposure
from audit.model.findings import Finding, Status
from audit.model.identity import VmKey
from audit.model.position import LicenceRow


@dataclass(frozen=True)
class PositionLine:
    """One line of the signed position: a licence value in one service, a service's total
    (`license` None) or the overall total (both None).

    `billed_vms`/`billed_vcpus` what OVHcloud bills for the period (None: a findings.json
    written before they were stored); `peak_vms` the datacenters' peaks summed (the most VMs
    carrying the value on one observed day, per datacenter); `vms_at_close` the VMs carrying it
    at the snapshot; `vmlicensed_at_close` the vmLicensed entries naming it, deleted VMs
    included (None: no datacenter's listing could be read).
    """

    service_name: str | None
    license: str | None
    billed_vms: int | None
    billed_vcpus: int | None
    peak_vms: int
    vms_at_close: int
    vmlicensed_at_close: int | None

    @property
    def is_total(self) -> bool:
        return self.license is None

    @property
    def is_overall(self) -> bool:
        return self.service_name is None and self.license is None


@dataclass(frozen=True)
class WindowsRan:
    """Windows server guests that ran (were powered on on an observed day) in one service
    (`service_name` None: every service), each in one bucket: `unbilled` an open WIN-UNLICENSED
    finding (the headline figure; `unbilled_vm_days` their observed days powered on without a
    licence), else `billed` billed for a licence value this period, else `byol` a valid byol
    exception covers it, else `other` (waived, or a value OVHcloud does not bill)."""

    service_name: str | None
    ran: int
    billed: int
    byol: int
    unbilled: int
    unbilled_vm_days: int
    other: int


def position_lines(rows: Iterable[LicenceRow]) -> tuple[PositionLine, ...]:
    """The billable per-datacenter rows summed per service and licence value, each service's
    values followed by its total, the overall total last."""
    by_value: dict[str, dict[str, list[LicenceRow]]] = {}
    for row in rows:
        if row.billable:
            by_value.setdefault(row.service_name, {}).setdefault(row.license, []).append(row)
    lines: list[PositionLine] = []
    totals: list[PositionLine] = []
    for service in sorted(by_value):
        values = by_value[service]
        mine = [_summed(service, value, values[value]) for value in sorted(values)]
        total = _summed(service, None, mine)
        lines.extend((*mine, total))
        totals.append(total)
    lines.append(_summed(None, None, totals))
    return tuple(lines)


def _summed(
    service: str | None, value: str | None, parts: Sequence[LicenceRow | PositionLine]
) -> PositionLine:
    """One line from the datacenter rows of a value, or a total from the lines it sums (the
    two share the position's field names)."""
    return PositionLine(
        service_name=service,
        license=value,
        billed_vms=_known(part.billed_vms for part in parts),
        billed_vcpus=_known(part.billed_vcpus for part in parts),
        peak_vms=sum(part.peak_vms for part in parts),
        vms_at_close=sum(part.vms_at_close for part in parts),
        vmlicensed_at_close=_known(part.vmlicensed_at_close for part in parts),
    )


def _known(values: Iterable[int | None]) -> int | None:
    """The sum of the known values; None when none is known (an empty sum is 0)."""
    listed = list(values)
    known = [value for value in listed if value is not None]
    return sum(known) if known or not listed else None


_BILLED_KINDS = frozenset({LicenceKind.EDITION, LicenceKind.LEGACY})


def windows_ran(
    inventory: Inventory, findings: Sequence[Finding], exposure: Exposure | None
) -> tuple[tuple[WindowsRan, ...], WindowsRan]:
    """Per service (in name order) and overall, the Windows server guests that ran this period.

    From the exposure's VMs (powered on on an observed day); a findings.json without an
    exposure falls back on the snapshot (powered on at it, billed: carries a Windows edition).
    """
    unbilled = {
        key
        for f in findings
        if f.rule_id == win_unlicensed.META.id
        and f.status is Status.OPEN
        and (key := f.vm_key) is not None
    }
    byol = {key for f in findings if f.status is Status.BYOL and (key := f.vm_key) is not None}
    ran: dict[VmKey, tuple[bool, int]] = {}  # billed, days unlicensed
    if exposure is not None:
        for vm in exposure.vms:
            server = interpret_guest_os(vm.guest_os_family).kind is GuestKind.WINDOWS_SERVER
            if (server and vm.days_powered_on) or vm.key in unbilled:
                ran[vm.key] = (bool(vm.billed), vm.days_unlicensed)
    else:
        for record in inventory.vms():
            key = record.key
            server = record.guest.kind is GuestKind.WINDOWS_SERVER
            if key is not None and not record.deleted and server and record.powered_on:
                ran[key] = (record.licence.kind in _BILLED_KINDS, 0)
    for key in unbilled - ran.keys():
        ran[key] = (False, 0)  # an unbilled VM the exposure does not list still ran
    buckets: dict[str, Counter[str]] = {}
    for key, (billed, days) in ran.items():
        bucket = buckets.setdefault(key.service_name, Counter())
        bucket["ran"] += 1
        if key in unbilled:
            bucket["unbilled"] += 1
            bucket["unbilled_vm_days"] += days
        elif billed:
            bucket["billed"] += 1
        elif key in byol:
            bucket["byol"] += 1
        else:
            bucket["other"] += 1
    per_service = tuple(_ran(service, buckets[service]) for service in sorted(buckets))
    overall: Counter[str] = Counter()
    for bucket in buckets.values():
        overall.update(bucket)
    return per_service, _ran(None, overall)


def _ran(service: str | None, bucket: Counter[str]) -> WindowsRan:
    return WindowsRan(
        service_name=service,
        ran=bucket["ran"],
        billed=bucket["billed"],
        byol=bucket["byol"],
        unbilled=bucket["unbilled"],
        unbilled_vm_days=bucket["unbilled_vm_days"],
        other=bucket["other"],
    )
