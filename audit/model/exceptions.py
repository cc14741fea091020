"""An exceptions register row as a record, below the parser and the rules that describe it.

The parser (audit/evaluate/exceptions.py) validates rule ids against the rule catalogue, and the
EXC-* rules describe rows: the record lives below both so neither imports the other.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import StrEnum

ANY_RULE = "*"


class ExceptionKind(StrEnum):
    """BYOL: the customer's own licence covers the VM. Waiver: risk accepted until a date."""

    BYOL = "byol"
    WAIVER = "waiver"


@dataclass(frozen=True, slots=True)
class ExceptionRow:
    """One register row, validated; `line` is where it starts in the file."""

    service_name: str
    datacenter_id: int
    vm_id: int
    rule_id: str
    kind: ExceptionKind
    reason: str
    approved_by: str
    expires: datetime.date | None
    reference: str
    line: int = 0

    @property
    def vm_key(self) -> tuple[str, int, int]:
        return (self.service_name, self.datacenter_id, self.vm_id)

    def covers(self, rule_id: str) -> bool:
        return self.rule_id in (rule_id, ANY_RULE)

    def is_expired(self, today: datetime.date) -> bool:
        """Valid through its `expires` day; a row without `expires` never expires."""
        return self.expires is not None and today > self.expires

    def to_register_dict(self) -> dict[str, str]:
        """The row as the register's columns, the form attached to findings."""
        return {
            "service_name": self.service_name,
            "datacenter_id": str(self.datacenter_id),
            "vm_id": str(self.vm_id),
            "rule_id": self.rule_id,
            "kind": self.kind.value,
            "reason": self.reason,
            "approved_by": self.approved_by,
            "expires": "" if self.expires is None else self.expires.isoformat(),
            "reference": self.reference,
        }
