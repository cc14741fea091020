"""The exceptions register's records: a validated row and what it did on the evaluation day.

Parsing the register's CSV stays in audit/evaluate/exceptions.py; these are the values the
engine, the findings document and the reports share.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from audit.model.fields import string
from audit.model.identity import VmKey
from audit.support.jsontypes import JSONObject

REGISTER_COLUMNS: tuple[str, ...] = (
    "service_name",
    "datacenter_id",
    "vm_id",
    "rule_id",
    "kind",
    "reason",
    "approved_by",
    "expires",
    "reference",
)
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
    line: int = field(default=0, compare=False)  # where, not what: findings.json omits it

    @property
    def vm_key(self) -> VmKey:
        return VmKey(self.service_name, self.datacenter_id, self.vm_id)

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

    @classmethod
    def from_register_dict(cls, data: Any, line: int = 0) -> ExceptionRow:
        """The inverse of `to_register_dict` (findings.json's form); ValueError when damaged."""
        if not isinstance(data, dict):
            raise ValueError("expected an object of the register's columns")
        expires = string(data["expires"])
        return cls(
            service_name=string(data["service_name"]),
            datacenter_id=int(string(data["datacenter_id"])),
            vm_id=int(string(data["vm_id"])),
            rule_id=string(data["rule_id"]),
            kind=ExceptionKind(string(data["kind"])),
            reason=string(data["reason"]),
            approved_by=string(data["approved_by"]),
            expires=datetime.date.fromisoformat(expires) if expires else None,
            reference=string(data["reference"]),
            line=line,
        )


class ExceptionStatus(StrEnum):
    """Where a register row stands on the evaluation day."""

    VALID = "valid"
    EXPIRED = "expired"
    STALE = "stale"


@dataclass(frozen=True)
class ExceptionState:
    """A register row and what it did: `findings_matched` counts the findings it covers
    (whether or not it set their status: an expired row, or a `*` row behind a specific one)."""

    row: ExceptionRow
    state: ExceptionStatus
    days_to_expiry: int | None
    findings_matched: int

    def to_json(self) -> JSONObject:
        """One item of findings.json's "exceptions" list."""
        return {
            "row": self.row.to_register_dict(),
            "line": self.row.line,
            "state": self.state.value,
            "days_to_expiry": self.days_to_expiry,
            "findings_matched": self.findings_matched,
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> ExceptionState:
        days = data["days_to_expiry"]
        return cls(
            row=ExceptionRow.from_register_dict(data["row"], int(data["line"])),
            state=ExceptionStatus(data["state"]),
            days_to_expiry=None if days is None else int(days),
            findings_matched=int(data["findings_matched"]),
        )
