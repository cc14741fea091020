"""Finding records and the `findings.json` document: the file between evaluate and render.

`findings.json` is a public contract (DESIGN.md). Its shape:

    {"run": {period, taken_at, endpoint, tool_version, snapshot_sha256, coverage},
     "summary": Summary.to_json(),
     "exceptions": [ExceptionState.to_json(), ...],
     "findings": [Finding.to_json(), ...]}

Later stages (history) may add keys; readers ignore keys they do not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

JSONObject = dict[str, Any]


class Severity(StrEnum):
    """Severity of a rule; `rank` orders them for `--fail-on` (higher is worse)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"high": 3, "medium": 2, "low": 1, "info": 0}[self.value]


class Status(StrEnum):
    """A finding is open unless a valid exception row covers it."""

    OPEN = "open"
    WAIVED = "waived"
    BYOL = "byol"


@dataclass(frozen=True)
class Finding:
    """One rule that fired for one VM (or one exception row, for EXC-STALE).

    `exception` is the register row that changed the status (or that expired, for
    EXC-EXPIRED), as a plain dict of the register's columns.
    """

    rule_id: str
    severity: Severity
    status: Status
    service_name: str
    datacenter_id: int | None
    vm_id: int | None
    vm_name: str | None
    moref: str | None
    power_state: str | None
    guest_os_family: str | None
    license: str | None
    message: str
    exception: dict[str, str] | None = None

    @property
    def fingerprint(self) -> str:
        """Stable identity across months: service, datacenter, VM and rule."""
        return f"{self.service_name}|{self.datacenter_id}|{self.vm_id}|{self.rule_id}"

    def to_json(self) -> JSONObject:
        data: JSONObject = {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "status": self.status.value,
            "service_name": self.service_name,
            "datacenter_id": self.datacenter_id,
            "vm_id": self.vm_id,
            "vm_name": self.vm_name,
            "moref": self.moref,
            "power_state": self.power_state,
            "guest_os_family": self.guest_os_family,
            "license": self.license,
            "message": self.message,
        }
        if self.exception is not None:
            data["exception"] = dict(self.exception)
        return data

    @classmethod
    def from_json(cls, data: JSONObject) -> Finding:
        return cls(
            rule_id=data["rule_id"],
            severity=Severity(data["severity"]),
            status=Status(data["status"]),
            service_name=data["service_name"],
            datacenter_id=data["datacenter_id"],
            vm_id=data["vm_id"],
            vm_name=data["vm_name"],
            moref=data["moref"],
            power_state=data["power_state"],
            guest_os_family=data["guest_os_family"],
            license=data["license"],
            message=data["message"],
            exception=data.get("exception"),
        )


@dataclass(frozen=True)
class LicenceUsage:
    """VMs and vCPUs carrying one licence value in one datacenter (`license` None = none)."""

    service_name: str
    datacenter_id: int
    license: str | None
    vms: int
    vcpus: int
    vms_powered_on: int
    vcpus_powered_on: int


@dataclass(frozen=True)
class Summary:
    """Counts for the human summary, the reports and `findings.json`."""

    by_severity: dict[str, int] = field(default_factory=dict)
    open_by_severity: dict[str, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    by_service: dict[str, int] = field(default_factory=dict)
    licence_usage: tuple[LicenceUsage, ...] = ()

    def to_json(self) -> JSONObject:
        return {
            "by_severity": self.by_severity,
            "open_by_severity": self.open_by_severity,
            "by_rule": self.by_rule,
            "by_status": self.by_status,
            "by_service": self.by_service,
            "licence_usage": [usage.__dict__ for usage in self.licence_usage],
        }
