"""How a VM and a finding are named from one run to the next.

A VM is its service, datacenter and VM id (`VmKey`); a finding is its VM and rule, written
`service|datacenter|vm|rule` (`fingerprint`): the history stores findings and reviews by it,
and `import-review` rebuilds it from the workbook's cells.
"""

from __future__ import annotations

from typing import NamedTuple


class VmKey(NamedTuple):
    """Where a VM is: (service, datacenter, VM id). Ordered and hashed as that plain tuple."""

    service_name: str
    datacenter_id: int
    vm_id: int


def fingerprint(
    service_name: str, datacenter_id: int | None, vm_id: int | None, rule_id: str
) -> str:
    """A finding's identity across months: `service|datacenter|vm|rule` (`None` spelled out)."""
    return f"{service_name}|{datacenter_id}|{vm_id}|{rule_id}"
