"""LIC-UNRECOGNISED: a licence value the audit cannot interpret."""

from __future__ import annotations

from audit.evaluate.knowledge import LicenceKind
from audit.evaluate.records import VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

META = RuleMeta(
    id="LIC-UNRECOGNISED",
    title="Unrecognised licence value",
    severity=Severity.LOW,
    rationale=(
        "A value that is not a known edition, legacy edition or special value cannot be "
        "checked against the guest, and may be billed without anyone knowing what for."
    ),
    remediation=(
        "Ask OVHcloud support what the value means, then set a current licence with "
        "setLicense if the guest needs one."
    ),
)


def check(vm: VmRecord) -> str | None:
    if vm.licence.kind is LicenceKind.UNSUPPORTED:
        return f"The API reports the licence as '{vm.api_license}'."
    if vm.licence.kind is LicenceKind.UNRECOGNISED:
        return (
            f"Licence '{vm.api_license}' is not a known Windows edition, legacy edition or "
            "special value."
        )
    return None


RULE = Rule(META, check_vm=check)
