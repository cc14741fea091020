"""What the history stage adds to a run: sightings, changes, gone findings, licence events,
the previous run's counts, the trend and the carried-forward reviews.

`HistoryResult` is the part written into findings.json; `HistoryView` the part the reports
read beside it, rebuilt from the history file by `report RUN_DIR`. The history stage
(audit/history/) builds both; renderers only read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from audit.model.fields import optional_int, optional_string, string
from audit.model.identity import fingerprint
from audit.support.jsontypes import JSONObject
from audit.support.timestamps import parse_utc, utc_day


class Change(StrEnum):
    """A finding compared with the previous run."""

    NEW = "new"
    PERSISTING = "persisting"
    REOPENED = "reopened"


class Resolution(StrEnum):
    """Why a finding of the previous run is gone."""

    FIXED = "fixed"
    VM_REMOVED = "vm_removed"


class EventKind(StrEnum):
    """A licence event between the previous run and this one."""

    LICENCE_SET = "licence_set"
    LICENCE_REMOVED = "licence_removed"
    LICENCE_CHANGED = "licence_changed"
    VM_ADDED = "vm_added"
    VM_REMOVED = "vm_removed"
    GUEST_OS_CHANGED = "guest_os_changed"


@dataclass(frozen=True, slots=True)
class Sighting:
    """A run, as findings.json names it: its period and the UTC date of its snapshot.

    Read back from findings.json, `taken_at` holds the date (all the document keeps)."""

    period: str
    taken_at: str

    @property
    def date(self) -> str:
        """The UTC day of `taken_at` (ISO), or its first ten characters if it is no timestamp."""
        taken = parse_utc(self.taken_at)
        return self.taken_at[:10] if taken is None else utc_day(taken).isoformat()

    def to_json(self) -> JSONObject:
        return {"period": self.period, "date": self.date}

    @classmethod
    def from_json(cls, data: JSONObject) -> Sighting:
        return cls(string(data["period"]), string(data["date"]))


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """What the history keeps of a finding in one run (one per fingerprint)."""

    fingerprint: str
    rule_id: str
    severity: str
    status: str
    service_name: str
    datacenter_id: int | None
    vm_id: int | None
    vm_name: str | None
    message: str

    def to_json(self) -> JSONObject:
        return {
            "rule_id": self.rule_id,
            "severity": self.severity,
            "status": self.status,
            "service_name": self.service_name,
            "datacenter_id": self.datacenter_id,
            "vm_id": self.vm_id,
            "vm_name": self.vm_name,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> FindingRecord:
        service, dc, vm, rule = (
            string(data["service_name"]),
            optional_int(data["datacenter_id"]),
            optional_int(data["vm_id"]),
            string(data["rule_id"]),
        )
        return cls(
            fingerprint=fingerprint(service, dc, vm, rule),
            rule_id=rule,
            severity=string(data["severity"]),
            status=string(data["status"]),
            service_name=service,
            datacenter_id=dc,
            vm_id=vm,
            vm_name=optional_string(data["vm_name"]),
            message=string(data["message"]),
        )


@dataclass(frozen=True, slots=True)
class GoneFinding:
    """A finding of the previous run that this run does not have, and why."""

    record: FindingRecord
    first_seen: Sighting
    last_seen: Sighting
    reason: Resolution | None  # None: unverified

    @property
    def outcome(self) -> str:
        """The reason (fixed, vm_removed), or `unverified`: an outage is not a fix."""
        return "unverified" if self.reason is None else self.reason.value

    def to_json(self) -> JSONObject:
        data = self.record.to_json()
        data["first_seen"] = self.first_seen.to_json()
        data["last_seen"] = self.last_seen.to_json()
        if self.reason is not None:
            data["reason"] = self.reason.value
        return data

    @classmethod
    def from_json(cls, data: JSONObject) -> GoneFinding:
        reason = data.get("reason")
        return cls(
            record=FindingRecord.from_json(data),
            first_seen=Sighting.from_json(data["first_seen"]),
            last_seen=Sighting.from_json(data["last_seen"]),
            reason=None if reason is None else Resolution(reason),
        )


@dataclass(frozen=True, slots=True)
class LicenceEvent:
    """One VM-level change; `before`/`after` hold the changed value (licence or guest OS).

    `guest_os_family` and `license` are the VM's values now (last known, for a removed VM).
    """

    event: EventKind
    service_name: str
    datacenter_id: int
    vm_id: int
    vm_name: str | None
    guest_os_family: str | None
    license: str | None
    before: str | None = None
    after: str | None = None

    def to_json(self) -> JSONObject:
        return {
            "event": self.event.value,
            "service_name": self.service_name,
            "datacenter_id": self.datacenter_id,
            "vm_id": self.vm_id,
            "vm_name": self.vm_name,
            "guest_os_family": self.guest_os_family,
            "license": self.license,
            "before": self.before,
            "after": self.after,
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> LicenceEvent:
        dc, vm = optional_int(data["datacenter_id"]), optional_int(data["vm_id"])
        if dc is None or vm is None:
            raise ValueError("datacenter_id and vm_id: expected integers")
        return cls(
            event=EventKind(data["event"]),
            service_name=string(data["service_name"]),
            datacenter_id=dc,
            vm_id=vm,
            vm_name=optional_string(data["vm_name"]),
            guest_os_family=optional_string(data["guest_os_family"]),
            license=optional_string(data["license"]),
            before=optional_string(data["before"]),
            after=optional_string(data["after"]),
        )


@dataclass(frozen=True)
class PreviousRun:
    """The run this one is compared with (findings.json "previous_run")."""

    period: str
    taken_at: str
    snapshot_sha256: str | None

    @property
    def sighting(self) -> Sighting:
        return Sighting(self.period, self.taken_at)

    def to_json(self) -> JSONObject:
        return {
            "period": self.period,
            "taken_at": self.taken_at,
            "snapshot_sha256": self.snapshot_sha256,
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> PreviousRun:
        return cls(
            string(data["period"]),
            string(data["taken_at"]),
            optional_string(data["snapshot_sha256"]),
        )


@dataclass(frozen=True)
class HistoryResult:
    """What the history stage writes into findings.json beside the per-finding marks."""

    previous_run: PreviousRun | None = None
    resolved: tuple[GoneFinding, ...] = ()
    unverified: tuple[GoneFinding, ...] = ()
    changes: tuple[LicenceEvent, ...] = ()

    @property
    def gone(self) -> tuple[GoneFinding, ...]:
        """Resolved then unverified, as the reports list them."""
        return self.resolved + self.unverified

    def to_json(self) -> JSONObject:
        return {
            "previous_run": None if self.previous_run is None else self.previous_run.to_json(),
            "resolved": [gone.to_json() for gone in self.resolved],
            "unverified": [gone.to_json() for gone in self.unverified],
            "changes": [event.to_json() for event in self.changes],
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> HistoryResult:
        previous = data["previous_run"]
        return cls(
            previous_run=None if previous is None else PreviousRun.from_json(previous),
            resolved=tuple(GoneFinding.from_json(item) for item in data["resolved"]),
            unverified=tuple(GoneFinding.from_json(item) for item in data["unverified"]),
            changes=tuple(LicenceEvent.from_json(item) for item in data["changes"]),
        )


@dataclass(frozen=True)
class PreviousCounts:
    """The previous stored run's counts, for the deltas on the Summary."""

    period: str
    taken_at: str
    open_by_severity: Mapping[str, int]
    by_severity: Mapping[str, int]
    by_status: Mapping[str, int]
    open: int
    findings: int
    headline: Mapping[str, int] = field(default_factory=dict)  # empty for a run that kept none


@dataclass(frozen=True)
class TrendPoint:
    """Open findings of one stored run by severity (every severity, in order), and their total."""

    period: str
    open_by_severity: Mapping[str, int]
    open: int

    def row(self) -> tuple[Any, ...]:
        """The trend table's row: period, each severity, total (see `TREND_KEYS`)."""
        return (self.period, *self.open_by_severity.values(), self.open)


@dataclass(frozen=True)
class Review:
    """An auditor's review of one finding, as stored."""

    fingerprint: str
    status: str | None
    owner: str | None
    comment: str | None
    period: str | None
    source: str
    imported_at: str
    imported_by: str

    def carried(self) -> CarriedReview:
        return CarriedReview(
            self.status, self.owner, self.comment, self.period, self.imported_at, self.imported_by
        )


@dataclass(frozen=True)
class CarriedReview:
    """A review as carried into a later run's reports (and stored with that run)."""

    status: str | None
    owner: str | None
    comment: str | None
    period: str | None
    imported_at: str
    imported_by: str

    def to_json(self) -> JSONObject:
        return {
            "status": self.status,
            "owner": self.owner,
            "comment": self.comment,
            "period": self.period,
            "imported_at": self.imported_at,
            "imported_by": self.imported_by,
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> CarriedReview:
        return cls(
            optional_string(data.get("status")),
            optional_string(data.get("owner")),
            optional_string(data.get("comment")),
            optional_string(data.get("period")),
            str(data.get("imported_at", "")),
            str(data.get("imported_by", "")),
        )


@dataclass(frozen=True)
class HistoryView:
    """What the reports read from the history file beside findings.json; empty without one."""

    previous: PreviousCounts | None = None
    trend: tuple[TrendPoint, ...] = ()
    reviews: Mapping[str, CarriedReview] = field(default_factory=dict)

    def review(self, fingerprint: str) -> CarriedReview | None:
        """The review carried forward to the finding, if any."""
        return self.reviews.get(fingerprint)

    def review_cells(self, fingerprint: str) -> tuple[str | None, str | None, str | None]:
        """(status, owner, comment) of the finding's carried-forward review; Nones without."""
        review = self.review(fingerprint)
        return (
            (None, None, None) if review is None else (review.status, review.owner, review.comment)
        )
