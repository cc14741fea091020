"""LIC-BYOL-BILLED: a VM the register declares BYOL that also carries a licence OVHcloud bills."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from audit.evaluate.records import VmRecord
from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

if TYPE_CHECKING:
    from audit.model.exceptions import ExceptionRow

META = RuleMeta(
    id="LIC-BYOL-BILLED",
    title="BYOL-declared VM also billed for a licence",
    severity=Severity.MEDIUM,
    rationale=(
        "The exceptions register says the customer's own licence (BYOL) covers this VM, yet "
        "it carries a Windows edition that OVHcloud bills every month: the customer may pay "
        "twice. The byol status of its other findings would otherwise hide the charge."
    ),
    remediation=(
        "If the customer's own licence really covers the VM, remove the SPLA licence with "
        "removeLicense; if it does not, remove the byol row from the exceptions register."
    ),
    byol_covers=False,
)


def check(vm: VmRecord, rows: Sequence[ExceptionRow]) -> str | None:
    """`rows` are the VM's valid register rows; any byol one, whatever its rule, declares it."""
    if not vm.licence.is_windows_edition:
        return None
    byol = next((row for row in rows if row.kind.value == "byol"), None)
    if byol is None:
        return None
    approver = f"approved by {byol.approved_by}" if byol.approved_by else "no approver"
    return (
        f"Licence '{vm.api_license}' is billed by OVHcloud although the exceptions register "
        f"declares the VM BYOL (line {byol.line}, rule {byol.rule_id}, {approver}): the "
        "customer may pay twice."
    )


RULE = Rule(META, check_register=check)
