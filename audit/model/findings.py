"""Finding records: severity, status, one finding, the summary counts.

A finding is built by the evaluate stage and may carry the history stage's annotations
(`first_seen`, `change`); `to_json` writes them only when set, so findings.json without a
history has the same bytes as before (docs/DESIGN.md, "Output folder").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from audit.model.exceptions import ExceptionRow
from audit.model.fields import optional_int, optional_string, string
from audit.model.history import Change, Sighting
from audit.model.identity import VmKey, fingerprint
from audit.model.position import LicenceUsage
from audit.support.jsontypes import JSONObject


class Severity(StrEnum):
    """Severity of a rule, worst first."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """The one severity order: 0 for the worst (high), then up to info; sorting by rank
        puts the worst first."""
        return SEVERITY_RANK[self.value]

    def at_least(self, threshold: Severity) -> bool:
        """Whether this severity is `threshold` or worse (`--fail-on`)."""
        return self.rank <= threshold.rank


# The one severity order (worst first), as the plain strings reports and documents use, and
# each one's rank (its position in it: 0 is the worst).
SEVERITIES: tuple[str, ...] = tuple(severity.value for severity in Severity)
SEVERITY_RANK: Mapping[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}


class Status(StrEnum):
    """A finding is open unless a valid exception row covers it."""

    OPEN = "open"
    WAIVED = "waived"
    BYOL = "byol"


STATUSES: tuple[str, ...] = tuple(status.value for status in Status)


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule that fired for one VM (or one exception row, for EXC-STALE).

    `exception` is the register row that changed the status (or that expired, for
    EXC-EXPIRED); findings.json holds it as the register's columns. `first_seen` and
    `change` are the history stage's marks (None before it runs).
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
    exception: ExceptionRow | None = None
    first_seen: Sighting | None = None
    change: Change | None = None
    folder: str | None = None  # the VM's vSphere folder and cluster, for per-owner filtering
    cluster: str | None = None

    @property
    def fingerprint(self) -> str:
        """Stable identity across months: service, datacenter, VM and rule."""
        return fingerprint(self.service_name, self.datacenter_id, self.vm_id, self.rule_id)

    @property
    def vm_key(self) -> VmKey | None:
        """The finding's VM; None for a finding that names no VM."""
        if self.datacenter_id is None or self.vm_id is None:
            return None
        return VmKey(self.service_name, self.datacenter_id, self.vm_id)

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
            data["exception"] = self.exception.to_register_dict()
        if self.first_seen is not None:
            data["first_seen"] = self.first_seen.to_json()
        if self.change is not None:
            data["change"] = self.change.value
        if self.folder is not None:
            data["folder"] = self.folder
        if self.cluster is not None:
            data["cluster"] = self.cluster
        return data

    @classmethod
    def from_json(cls, data: JSONObject) -> Finding:
        exception, first_seen, change = (
            data.get("exception"),
            data.get("first_seen"),
            data.get("change"),
        )
        return cls(
            rule_id=string(data["rule_id"]),
            severity=Severity(data["severity"]),
            status=Status(data["status"]),
            service_name=string(data["service_name"]),
            datacenter_id=optional_int(data["datacenter_id"]),
            vm_id=optional_int(data["vm_id"]),
            vm_name=optional_string(data["vm_name"]),
            moref=optional_string(data["moref"]),
            power_state=optional_string(data["power_state"]),
            guest_os_family=optional_string(data["guest_os_family"]),
            license=optional_string(data["license"]),
            message=string(data["message"]),
            exception=None if exception is None else ExceptionRow.from_register_dict(exception),
            first_seen=None if first_seen is None else Sighting.from_json(first_seen),
            change=None if change is None else Change(change),
            folder=optional_string(data.get("folder")),
            cluster=optional_string(data.get("cluster")),
        )


@dataclass(frozen=True)
class Summary:
    """Counts for the human summary, the reports and `findings.json`."""

    by_severity: dict[str, int] = field(default_factory=dict)
    open_by_severity: dict[str, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    by_service: dict[str, int] = field(default_factory=dict)
    licence_usage: tuple[LicenceUsage, ...] = ()
    # The headline figures (audit/evaluate/headline.py) by key, and `windows_guests`, the
    # share's denominator; kept by the history so the next run shows their change.
    headline: dict[str, int] = field(default_factory=dict)

    def counts(self) -> JSONObject:
        """The per-key count maps, without the licence usage table (what the history keeps)."""
        data: JSONObject = {
            "by_severity": self.by_severity,
            "open_by_severity": self.open_by_severity,
            "by_rule": self.by_rule,
            "by_status": self.by_status,
            "by_service": self.by_service,
        }
        if self.headline:
            data["headline"] = self.headline
        return data

    def to_json(self) -> JSONObject:
        return {
            **self.counts(),
            "licence_usage": [usage.__dict__ for usage in self.licence_usage],
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> Summary:
        return cls(
            by_severity=_counts(data["by_severity"]),
            open_by_severity=_counts(data["open_by_severity"]),
            by_rule=_counts(data["by_rule"]),
            by_status=_counts(data["by_status"]),
            by_service=_counts(data["by_service"]),
            licence_usage=tuple(LicenceUsage(**usage) for usage in data["licence_usage"]),
            headline=_counts(data.get("headline", {})),
        )


def _counts(value: Any) -> dict[str, int]:
    if not isinstance(value, dict) or not all(
        isinstance(count, int) and not isinstance(count, bool) for count in value.values()
    ):
        raise ValueError("expected an object of counts")
    return dict(value)
