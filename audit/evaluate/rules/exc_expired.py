"""EXC-EXPIRED: an exceptions register row past its expiry date; raised by the engine."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from audit.evaluate.rules.base import Rule, RuleMeta
from audit.model.findings import Severity

if TYPE_CHECKING:
    from audit.model.exceptions import ExceptionRow

META = RuleMeta(
    id="EXC-EXPIRED",
    title="Exception expired",
    severity=Severity.LOW,
    rationale=(
        "An exception is approved until a date; past it, the findings it covered are open "
        "again and the approval must be renewed or the VM fixed."
    ),
    remediation=(
        "Renew the row in the exceptions register with a new expiry date and approver if it "
        "still holds, or remediate the findings it covered."
    ),
)


def describe(row: ExceptionRow, today: datetime.date) -> str:
    """The message of the finding for an expired row (`row.expires` is set)."""
    expires = row.expires or today
    days = (today - expires).days
    approver = f"approved by {row.approved_by}" if row.approved_by else "no approver"
    return (
        f"The {row.kind.value} exception for rule {row.rule_id} ({approver}) expired on "
        f"{expires.isoformat()}, {days} day{'s' if days != 1 else ''} ago; the findings it "
        "covered are open again."
    )


RULE = Rule(META)
