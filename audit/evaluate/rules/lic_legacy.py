"""LIC-LEGACY: a licence edition that OVHcloud no longer lets anyone set."""

from __future__ import annotations

from audit.evaluate.knowledge import LicenceKind
from audit.evaluate.records import VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

META = RuleMeta(
    id="LIC-LEGACY",
    title="Legacy licence edition",
    severity=Severity.LOW,
    rationale=(
        "Windows Server 2008 R2, 2012 and 2012 R2 licences can still be read on old VMs "
        "but can no longer be set: the guest runs an out-of-support OS, and once removed "
        "the licence cannot be restored."
    ),
    remediation=(
        "Plan the guest's upgrade to a supported Windows Server version and set a current "
        "licence then; do not remove the legacy licence before, it cannot be set again."
    ),
)


def check(vm: VmRecord) -> str | None:
    if vm.licence.kind is not LicenceKind.LEGACY:
        return None
    return (
        f"Licence '{vm.api_license}' is a legacy Windows Server {vm.licence.version} edition "
        "that can no longer be set."
    )


RULE = Rule(META, check_vm=check)
