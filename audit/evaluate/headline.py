"""The headline figures an auditor quotes and signs, each a count of findings or defined by one
sentence that the reports print beside it, and the Windows guests by licence situation that
the charts show by the same definitions.

Pure functions over the findings (and, for the share of correctly licensed guests, the
inventory), so the same functions give the previous run's figures for the change since then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from audit.evaluate.inventory import Inventory
from audit.evaluate.knowledge import LicenceKind
from audit.evaluate.records import VmRecord
from audit.evaluate.rules import (
    lic_byol_billed,
    lic_non_windows,
    lic_powered_off,
    lic_version_mismatch,
    win_client_os,
    win_unlicensed,
)
from audit.model.findings import Finding, Status
from audit.model.identity import VmKey
from audit.support.jsontypes import JSONObject

# Findings (whatever their status) that say a guest's licence does not fit it: the wrong
# Windows version, or a desktop OS that no SPLA server licence covers.
MISFIT_RULE_IDS: frozenset[str] = frozenset({lic_version_mismatch.META.id, win_client_os.META.id})
# Open findings that say a billed licence may buy nothing: a non-Windows guest, a powered-off
# VM, or a VM the customer already covers with its own licence.
WASTE_RULE_IDS: tuple[str, ...] = (
    lic_non_windows.META.id,
    lic_powered_off.META.id,
    lic_byol_billed.META.id,
)
_FITTING_KINDS = frozenset({LicenceKind.EDITION, LicenceKind.LEGACY, LicenceKind.OVH_MANAGED})


class FigureKey(StrEnum):
    UNLICENSED_SERVER_GUESTS = "unlicensed_server_guests"
    CORRECTLY_LICENSED = "windows_guests_correctly_licensed"
    LICENCES_POSSIBLY_WASTED = "licences_possibly_wasted"
    BYOL_COVERED_GUESTS = "byol_covered_guests"


@dataclass(frozen=True)
class Definition:
    """What a figure is called and the one sentence that defines it, as the reports print."""

    label: str
    sentence: str
    rule_ids: tuple[str, ...]


DEFINITIONS: Mapping[FigureKey, Definition] = {
    FigureKey.UNLICENSED_SERVER_GUESTS: Definition(
        "Windows Server guests that ran unbilled this period",
        "The open WIN-UNLICENSED findings: Windows Server guests that ran this period without "
        "a licence and were billed for none (whatever they are now, deleted included), or run "
        "without one at the snapshot, that no valid exception covers; desktop-OS guests are "
        "counted by WIN-CLIENT-OS instead.",
        (win_unlicensed.META.id,),
    ),
    FigureKey.CORRECTLY_LICENSED: Definition(
        "Windows guests correctly licensed",
        "Windows guests (deleted VMs aside) carrying a Windows edition or 'OVHcloud managed' "
        "that fits them: no LIC-VERSION-MISMATCH or WIN-CLIENT-OS finding, whatever its "
        "status, says the licence does not cover the guest.",
        tuple(sorted(MISFIT_RULE_IDS)),
    ),
    FigureKey.LICENCES_POSSIBLY_WASTED: Definition(
        "Licences possibly wasted",
        "VMs with an open LIC-NON-WINDOWS, LIC-POWERED-OFF or LIC-BYOL-BILLED finding, each "
        "VM counted once: a billed licence on a non-Windows guest, on a powered-off VM, or on "
        "a VM the customer declares covered by its own licence.",
        WASTE_RULE_IDS,
    ),
    FigureKey.BYOL_COVERED_GUESTS: Definition(
        "BYOL-covered guests",
        "VMs with at least one finding in status byol: a valid byol row of the exceptions "
        "register covers it, each VM counted once.",
        (),
    ),
}


@dataclass(frozen=True)
class Figure:
    """One headline figure; `of` is the denominator when the figure is a share."""

    key: FigureKey
    value: int
    of: int | None = None

    @property
    def definition(self) -> Definition:
        return DEFINITIONS[self.key]

    def to_json(self) -> JSONObject:
        return {
            "key": self.key.value,
            "label": self.definition.label,
            "value": self.value,
            "of": self.of,
            "definition": self.definition.sentence,
            "rule_ids": list(self.definition.rule_ids),
        }


def unlicensed_server_guests(findings: Iterable[Finding]) -> Figure:
    """The open WIN-UNLICENSED findings."""
    count = sum(
        1 for f in findings if f.rule_id == win_unlicensed.META.id and f.status is Status.OPEN
    )
    return Figure(FigureKey.UNLICENSED_SERVER_GUESTS, count)


def licence_fits(vm: VmRecord, rule_ids: Collection[str]) -> bool:
    """Whether a Windows guest's licence covers it, by the tool's own rules: a licence it can
    be billed under and none of `rule_ids` (the VM's findings) in MISFIT_RULE_IDS. This is the
    test the reports' "licensed" bucket must use (not the licence kind alone)."""
    return vm.licence.kind in _FITTING_KINDS and not MISFIT_RULE_IDS.intersection(rule_ids)


def rules_by_vm(findings: Iterable[Finding]) -> dict[VmKey, tuple[str, ...]]:
    """The rule ids raised per VM, whatever their status, each once, in findings order."""
    by_vm: dict[VmKey, dict[str, None]] = {}
    for finding in findings:
        key = finding.vm_key
        if key is not None:
            by_vm.setdefault(key, {})[finding.rule_id] = None
    return {key: tuple(rules) for key, rules in by_vm.items()}


@dataclass(frozen=True)
class WindowsCoverage:
    """Windows guests of one datacenter (or, `datacenter_id` None, one service; both None,
    every service) by licence situation, by the headline's definitions, for the reports'
    charts and tables.

    Each guest (configured guest OS, deleted VMs aside) sits in one bucket: `licensed` its
    licence fits it (the "correctly licensed" figure counts exactly these), else `byol` a valid
    byol row covers one of its findings, else `unlicensed` no licence, `misfit` a Windows
    licence the rules say does not cover it (wrong version, desktop OS), `unclear` any other
    value.
    """

    service_name: str | None
    datacenter_id: int | None
    windows: int
    licensed: int
    byol: int
    unlicensed: int
    misfit: int
    unclear: int

    def counts(self) -> tuple[int, int, int, int, int, int]:
        """Windows guests, then each bucket in the order above."""
        return (
            self.windows,
            self.licensed,
            self.byol,
            self.unlicensed,
            self.misfit,
            self.unclear,
        )


_UNLICENSED_KINDS = frozenset({LicenceKind.NONE, LicenceKind.UNLICENSED})
_BUCKETS = ("licensed", "byol", "unlicensed", "misfit", "unclear")


def windows_coverage(
    inventory: Inventory, findings: Iterable[Finding]
) -> tuple[WindowsCoverage, ...]:
    """Windows guests per datacenter (configured guest OS, deleted VMs aside), by licence
    situation, in the inventory's order."""
    listed = tuple(findings)
    rules = rules_by_vm(listed)
    byol = {key for f in listed if f.status is Status.BYOL and (key := f.vm_key) is not None}
    rows = []
    for dc in inventory.datacenters:
        bucket: Counter[str] = Counter()
        for vm in dc.vms:
            if vm.deleted or not vm.guest.is_windows:
                continue
            key = vm.key
            if licence_fits(vm, () if key is None else rules.get(key, ())):
                bucket["licensed"] += 1
            elif key in byol:
                bucket["byol"] += 1
            elif vm.licence.kind in _UNLICENSED_KINDS:
                bucket["unlicensed"] += 1
            elif vm.licence.kind in _FITTING_KINDS:
                bucket["misfit"] += 1
            else:
                bucket["unclear"] += 1
        rows.append(_coverage_row(dc.service_name, dc.datacenter_id, bucket))
    return tuple(rows)


def per_service(rows: Iterable[WindowsCoverage]) -> tuple[WindowsCoverage, ...]:
    """Per-datacenter coverage summed per service, in the services' order."""
    totals: dict[str | None, Counter[str]] = {}
    for row in rows:
        totals.setdefault(row.service_name, Counter()).update(
            {bucket: getattr(row, bucket) for bucket in _BUCKETS}
        )
    return tuple(_coverage_row(name, None, bucket) for name, bucket in totals.items())


def coverage_total(rows: Iterable[WindowsCoverage]) -> WindowsCoverage:
    """Every row summed (service and datacenter None)."""
    total: Counter[str] = Counter()
    for row in rows:
        total.update({bucket: getattr(row, bucket) for bucket in _BUCKETS})
    return _coverage_row(None, None, total)


def _coverage_row(
    service_name: str | None, dc_id: int | None, bucket: Counter[str]
) -> WindowsCoverage:
    return WindowsCoverage(
        service_name=service_name,
        datacenter_id=dc_id,
        windows=sum(bucket.values()),
        licensed=bucket["licensed"],
        byol=bucket["byol"],
        unlicensed=bucket["unlicensed"],
        misfit=bucket["misfit"],
        unclear=bucket["unclear"],
    )


def windows_guests_correctly_licensed(
    coverage: Iterable[WindowsCoverage],
) -> Figure:
    """Windows guests whose licence fits them, of every Windows guest not deleted: the
    `licensed` bucket of `windows_coverage`, so the charts and the figure agree."""
    rows = tuple(coverage)
    fitting = sum(row.licensed for row in rows)
    return Figure(FigureKey.CORRECTLY_LICENSED, fitting, sum(row.windows for row in rows))


def wasted_licences(findings: Iterable[Finding]) -> dict[VmKey, str | None]:
    """The VMs counted as licences possibly wasted, with the licence each carries."""
    wasted: dict[VmKey, str | None] = {}
    for finding in findings:
        key = finding.vm_key
        if key is not None and finding.rule_id in WASTE_RULE_IDS and finding.status is Status.OPEN:
            wasted.setdefault(key, finding.license)
    return wasted


def licences_possibly_wasted(findings: Iterable[Finding]) -> Figure:
    """VMs with an open finding of WASTE_RULE_IDS, each counted once."""
    return Figure(FigureKey.LICENCES_POSSIBLY_WASTED, len(wasted_licences(findings)))


def byol_covered_guests(findings: Iterable[Finding]) -> Figure:
    """VMs with at least one finding in status byol."""
    vms = {key for f in findings if f.status is Status.BYOL and (key := f.vm_key) is not None}
    return Figure(FigureKey.BYOL_COVERED_GUESTS, len(vms))


def headline(inventory: Inventory, findings: Iterable[Finding]) -> tuple[Figure, ...]:
    """The four figures, in the order the reports show them."""
    listed = tuple(findings)
    return (
        unlicensed_server_guests(listed),
        windows_guests_correctly_licensed(windows_coverage(inventory, listed)),
        licences_possibly_wasted(listed),
        byol_covered_guests(listed),
    )


WINDOWS_GUESTS = "windows_guests"  # the correctly-licensed share's denominator


def counts(figures: Iterable[Figure]) -> dict[str, int]:
    """The figures as findings.json's `summary.headline` (and the history) keep them."""
    kept: dict[str, int] = {}
    for figure in figures:
        kept[figure.key.value] = figure.value
        if figure.of is not None:
            kept[WINDOWS_GUESTS] = figure.of
    return kept


def from_counts(kept: Mapping[str, int]) -> tuple[Figure, ...]:
    """The figures back from `counts`, in the reports' order; those not kept are left out."""
    return tuple(
        Figure(
            key,
            kept[key.value],
            kept.get(WINDOWS_GUESTS) if key is FigureKey.CORRECTLY_LICENSED else None,
        )
        for key in FigureKey
        if key.value in kept
    )
