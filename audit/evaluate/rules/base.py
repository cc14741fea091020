"""The shape every rule shares: metadata as data and one or two pure check functions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audit.evaluate.knowledge import GuestKind, LicenceKind
from audit.evaluate.records import DatacenterRecord, Gone, GoneVm, LicensedEntry, VmRecord
from audit.model.exposure import VmPeriod
from audit.model.findings import Severity

if TYPE_CHECKING:
    from audit.model.exceptions import ExceptionRow


@dataclass(frozen=True)
class RuleMeta:
    """Everything the reports and the plan say about a rule, independent of any VM. What the
    plan does about a finding is decided in audit.remediate.plan (PLANNERS, MANUAL_RULES)."""

    id: str
    title: str
    severity: Severity
    rationale: str
    remediation: str
    # False for a rule about the BYOL declaration itself (LIC-BYOL-BILLED): a byol row that
    # matches it (`*`) must not hide it; only a waiver can.
    byol_covers: bool = True


# A VM check answers the finding's message, or None when the rule does not fire.
VmCheck = Callable[[VmRecord], str | None]
# A datacenter check answers one (vmLicensed entry, message) per hit.
DatacenterCheck = Callable[[DatacenterRecord], Iterable[tuple[LicensedEntry, str]]]
# A register check sees a VM and its valid (unexpired) register rows, once the VM's own rules
# ran; it answers the finding's message, or None.
RegisterCheck = Callable[[VmRecord, "Sequence[ExceptionRow]"], str | None]
# A gone check sees a VM the period's observations saw that the snapshot does not evaluate
# (deleted, no longer listed, or not read); it answers the finding's message, or None.
GoneCheck = Callable[[GoneVm], str | None]


@dataclass(frozen=True)
class Rule:
    """A rule: its metadata and its checks. EXC-* rules have none (the engine raises them).

    `check_vm` sees every VM that is not deleted; `check_deleted` the VMs in state `deleted`
    (only LIC-DELETED-DECLARED looks at them); `check_gone` the VMs of the period that the
    snapshot does not evaluate."""

    meta: RuleMeta
    check_vm: VmCheck | None = None
    check_datacenter: DatacenterCheck | None = None
    check_register: RegisterCheck | None = None
    check_deleted: VmCheck | None = None
    check_gone: GoneCheck | None = None

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def checks(self) -> tuple[object, ...]:
        """Every check the rule has (none: the engine raises it from the register)."""
        every = (
            self.check_vm,
            self.check_datacenter,
            self.check_register,
            self.check_deleted,
            self.check_gone,
        )
        return tuple(check for check in every if check is not None)


def licence_against_guest(vm: VmRecord) -> int | None:
    """A server guest's licence version against the guest's: -1 older, 0 fits, 1 newer; None
    when the guest is not a server or either version is unknown."""
    version = vm.licence.version
    if vm.guest.kind is not GuestKind.WINDOWS_SERVER or version is None:
        return None
    return vm.guest.against(version)


def unlicensed_days(period: VmPeriod) -> str:
    """The days a VM ran as a powered-on Windows server guest without a licence, in words."""
    span = period.first_unlicensed
    if period.last_unlicensed != period.first_unlicensed:
        span = f"{period.first_unlicensed} to {period.last_unlicensed}"
    return f"{period.days_unlicensed} observed day(s) of the period ({span})"


def billed_values(period: VmPeriod) -> str:
    return ", ".join(f"'{value}'" for value in period.billed)


_GONE = {
    Gone.DELETED: "it is deleted at the snapshot",
    Gone.UNLISTED: "it is no longer listed at the snapshot",
    Gone.UNREAD: "it could not be read at the snapshot",
}


def now_text(vm: VmRecord | GoneVm) -> str:
    """What the VM is at the snapshot, for a message about its period."""
    if isinstance(vm, GoneVm):
        return _GONE[vm.gone]
    if vm.licence.kind not in (LicenceKind.NONE, LicenceKind.UNLICENSED):
        return f"it now carries '{vm.api_license}'"
    if not vm.unlicensed_server:
        return f"its guest is now {vm.guest.label} (guestOsFamily '{vm.guest_os_family}')"
    if not vm.powered_on:
        return "it is powered off at the snapshot"
    return "it still runs without a licence at the snapshot"
