"""The shape every rule shares: metadata as data and one or two pure check functions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audit.evaluate.records import DatacenterRecord, LicensedEntry, VmRecord
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


@dataclass(frozen=True)
class Rule:
    """A rule: its metadata and its checks. EXC-* rules have none (the engine raises them)."""

    meta: RuleMeta
    check_vm: VmCheck | None = None
    check_datacenter: DatacenterCheck | None = None
    check_register: RegisterCheck | None = None

    @property
    def id(self) -> str:
        return self.meta.id
