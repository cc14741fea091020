"""EXC-STALE: an exceptions register row naming no live VM; raised by the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

if TYPE_CHECKING:
    from audit.model.exceptions import ExceptionRow

META = RuleMeta(
    id="EXC-STALE",
    title="Exception matches no VM",
    severity=Severity.INFO,
    rationale=(
        "A row for a VM that no longer exists (or never did, because of a typo) covers "
        "nothing today, but would silently cover a future VM that reuses the id."
    ),
    remediation=(
        "Remove the row from the exceptions register, or correct its service, datacenter or VM id."
    ),
)


def describe(row: ExceptionRow, deleted: bool) -> str:
    """The message for a stale row; `deleted` when the VM is inventoried as deleted."""
    where = f"VM {row.vm_id} in datacenter {row.datacenter_id} of {row.service_name}"
    state = "is deleted" if deleted else "is not in the snapshot"
    return f"The {row.kind.value} exception for rule {row.rule_id} names {where}, which {state}."


RULE = Rule(META)
