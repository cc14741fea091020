"""What both reports show, computed once from the run folder so the workbook and the HTML agree.

Everything here is pure and deterministic: same RunData, same rows in the same order. Large
tables are generators so the workbook can stream a 100,000-VM fleet.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from audit.evaluate.knowledge import GuestKind, LicenceKind
from audit.evaluate.records import DELETED, VmRecord, integer, text
from audit.evaluate.rules.registry import RULES
from audit.model.exceptions import REGISTER_COLUMNS
from audit.model.findings import Finding
from audit.render.base import JSONObject, RunData
from audit.snapshot import Failure

SEVERITIES: tuple[str, ...] = ("high", "medium", "low", "info")
STATUSES: tuple[str, ...] = ("open", "waived", "byol")
REVIEW_STATUSES: tuple[str, ...] = ("open", "accepted", "fixed", "false positive")

# The register's columns, in the order people keep them (DESIGN.md, "Exceptions register").
EXCEPTION_FIELDS: tuple[str, ...] = REGISTER_COLUMNS

GUEST_KIND_LABELS: Mapping[str, str] = {
    GuestKind.WINDOWS_SERVER: "Windows server",
    GuestKind.WINDOWS_CLIENT: "Windows client",
    GuestKind.NON_WINDOWS: "non-Windows",
    GuestKind.UNKNOWN: "unknown",
}


@dataclass(frozen=True)
class RuleInfo:
    """One catalogue entry as the reports show it (the registry's metadata, plain strings)."""

    id: str
    title: str
    severity: str
    rationale: str
    remediation: str


def rule_catalogue() -> dict[str, RuleInfo]:
    """The rule registry by id, in the registry's order."""
    return {
        rule.id: RuleInfo(
            id=rule.id,
            title=rule.meta.title,
            severity=rule.meta.severity.value,
            rationale=rule.meta.rationale,
            remediation=rule.meta.remediation,
        )
        for rule in RULES
    }


def rule_for(catalogue: Mapping[str, RuleInfo], rule_id: str, severity: str) -> RuleInfo:
    """The catalogue entry, or a placeholder for a rule this version does not know.

    A findings.json written by another version may name a retired rule; the report still
    renders it rather than failing an audit over a label.
    """
    known = catalogue.get(rule_id)
    if known is not None:
        return known
    return RuleInfo(rule_id, rule_id, severity, "Not in this version's catalogue.", "")


def rule_order(catalogue: Mapping[str, RuleInfo], rule_id: str) -> tuple[int, int, str]:
    """Sort key for rules: worst severity first, then the catalogue's order; unknown last."""
    order = list(catalogue)
    if rule_id not in catalogue:
        return (len(SEVERITIES), len(order), rule_id)
    return (SEVERITIES.index(catalogue[rule_id].severity), order.index(rule_id), rule_id)


def parse_utc(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as a naive UTC datetime (Excel has no time zones), else None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def parse_date(value: Any) -> date | None:
    """An ISO date (or the date of a timestamp), else None: the register is typed by people."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        stamp = parse_utc(value)
        return None if stamp is None else stamp.date()


def fingerprint(finding: JSONObject) -> str:
    """The finding's identity across months, exactly as the history stage keys reviews."""
    return Finding.from_json(finding).fingerprint


def review_of(
    history: JSONObject, finding: JSONObject
) -> tuple[str | None, str | None, str | None]:
    """Carried-forward (status, owner, comment) for a finding; Nones when there is none."""
    reviews = history.get("reviews")
    if not isinstance(reviews, Mapping) or not reviews:
        return None, None, None
    review = reviews.get(fingerprint(finding))
    if not isinstance(review, Mapping):
        return None, None, None
    return text(review.get("status")), text(review.get("owner")), text(review.get("comment"))


_STATUS_RANK: Mapping[str, int] = {status: rank for rank, status in enumerate(STATUSES)}


def finding_order(
    catalogue: Mapping[str, RuleInfo],
) -> Callable[[JSONObject], tuple[Any, ...]]:
    """Sort key shared by both reports: worst rule first, open before excepted, then by VM.

    The workbook is protected, and Excel cannot sort a protected range, so its rows must
    already be in the order an auditor reads them.
    """
    ranks = {rule_id: rule_order(catalogue, rule_id) for rule_id in catalogue}

    def key(finding: JSONObject) -> tuple[Any, ...]:
        rule_id = finding["rule_id"]
        rank = ranks.get(rule_id)
        dc_id, vm_id = integer(finding.get("datacenter_id")), integer(finding.get("vm_id"))
        return (
            rule_order(catalogue, rule_id) if rank is None else rank,
            _STATUS_RANK.get(finding.get("status", ""), len(STATUSES)),
            str(finding.get("service_name", "")),
            -1 if dc_id is None else dc_id,
            -1 if vm_id is None else vm_id,
        )

    return key


def has_history(findings: list[JSONObject]) -> bool:
    """True when the history stage has marked the findings (first seen, change)."""
    return any("first_seen" in f or "change" in f for f in findings)


def open_by_rule(findings: list[JSONObject]) -> Counter[str]:
    """Open findings per rule id (findings.json's summary counts every status)."""
    return Counter(f["rule_id"] for f in findings if f.get("status") == "open")


def count_sorted(counts: Mapping[str, int], order: tuple[str, ...] = ()) -> list[tuple[str, int]]:
    """Counts in a stable order: the known order first, then the rest by name."""
    known = [(key, counts[key]) for key in order if key in counts]
    rest = sorted((key, value) for key, value in counts.items() if key not in order)
    return known + rest


@dataclass(frozen=True)
class InventoryRow:
    """One VM with its interpretation and the rules it raised."""

    service_name: str
    datacenter_id: int
    vm_id: int | None
    name: str | None
    moref: str | None
    power_state: str | None
    guest_os_family: str | None
    guest_kind: str
    guest_label: str
    tools_guest_os_family: str | None
    license: str | None
    licence_kind: str
    vcpus: int | None
    memory_mb: int | None
    cluster: str | None
    host: str | None
    folder: str | None
    rule_ids: str


def rules_by_vm(findings: list[JSONObject]) -> dict[tuple[str, int | None, int | None], list[str]]:
    """Rule ids raised per (service, datacenter, VM), in findings order, for the inventory."""
    by_vm: dict[tuple[str, int | None, int | None], list[str]] = defaultdict(list)
    for finding in findings:
        if finding.get("vm_id") is None:
            continue
        key = (finding["service_name"], finding.get("datacenter_id"), finding["vm_id"])
        if finding["rule_id"] not in by_vm[key]:
            by_vm[key].append(finding["rule_id"])
    return by_vm


def iter_inventory(run: RunData) -> Iterator[InventoryRow]:
    """Every VM of the snapshot, deleted ones included (they are inventoried, not evaluated)."""
    by_vm = rules_by_vm(run.findings.get("findings", []))
    for service in run.snapshot.services:
        for dc in service.datacenters:
            tools = {
                entry_id: text(entry.get("guestOsFamily"))
                for entry in dc.vm_licensed or ()
                if (entry_id := integer(entry.get("vmId"))) is not None
            }
            for raw in dc.vms:
                record = VmRecord.from_api(raw, service.service_name, dc.datacenter_id, None)
                key = (service.service_name, dc.datacenter_id, record.vm_id)
                yield InventoryRow(
                    service_name=service.service_name,
                    datacenter_id=dc.datacenter_id,
                    vm_id=record.vm_id,
                    name=record.name,
                    moref=record.moref,
                    power_state=record.power_state,
                    guest_os_family=record.guest_os_family,
                    guest_kind=GUEST_KIND_LABELS[record.guest.kind],
                    guest_label=record.guest.label,
                    tools_guest_os_family=None if record.vm_id is None else tools.get(record.vm_id),
                    license=record.license,
                    licence_kind=record.licence.kind.value,
                    vcpus=integer(raw.get("cpuNum")),
                    memory_mb=integer(raw.get("memoryMax")),
                    cluster=text(raw.get("clusterName")),
                    host=text(raw.get("hostName")),
                    folder=text(raw.get("folderName")),
                    rule_ids=", ".join(by_vm.get(key, ())),
                )


@dataclass(frozen=True)
class WindowsCoverage:
    """Windows guests of one service (or datacenter) by licence situation, for the charts.

    `byol` counts unlicensed guests whose finding a valid BYOL row covers; `unclear` the ones
    whose licence value is not one a Windows guest can be billed under.
    """

    service_name: str
    datacenter_id: int | None
    windows: int
    licensed: int
    byol: int
    unlicensed: int
    unclear: int


_LICENSED_KINDS = frozenset({LicenceKind.EDITION, LicenceKind.LEGACY, LicenceKind.OVH_MANAGED})
_UNLICENSED_KINDS = frozenset({LicenceKind.NONE, LicenceKind.UNLICENSED})


def windows_coverage(run: RunData) -> list[WindowsCoverage]:
    """Windows guests per datacenter (configured guest OS, deleted VMs excluded), by licence."""
    byol_vms = {
        (f["service_name"], f.get("datacenter_id"), f.get("vm_id"))
        for f in run.findings.get("findings", [])
        if f.get("status") == "byol"
    }
    rows = []
    for service in run.snapshot.services:
        for dc in service.datacenters:
            bucket: Counter[str] = Counter()
            for raw in dc.vms:
                record = VmRecord.from_api(raw, service.service_name, dc.datacenter_id, None)
                if record.power_state == DELETED or not record.guest.is_windows:
                    continue
                if record.licence.kind in _LICENSED_KINDS:
                    bucket["licensed"] += 1
                elif record.licence.kind not in _UNLICENSED_KINDS:
                    bucket["unclear"] += 1
                elif (service.service_name, dc.datacenter_id, record.vm_id) in byol_vms:
                    bucket["byol"] += 1
                else:
                    bucket["unlicensed"] += 1
            rows.append(_windows_row(service.service_name, dc.datacenter_id, bucket))
    return rows


def per_service(rows: list[WindowsCoverage]) -> list[WindowsCoverage]:
    """The per-datacenter counts summed per service, in the services' order."""
    totals: dict[str, Counter[str]] = {}
    for row in rows:
        totals.setdefault(row.service_name, Counter()).update(
            licensed=row.licensed, byol=row.byol, unlicensed=row.unlicensed, unclear=row.unclear
        )
    return [_windows_row(name, None, bucket) for name, bucket in totals.items()]


def _windows_row(service_name: str, dc_id: int | None, bucket: Counter[str]) -> WindowsCoverage:
    return WindowsCoverage(
        service_name=service_name,
        datacenter_id=dc_id,
        windows=sum(bucket.values()),
        licensed=bucket["licensed"],
        byol=bucket["byol"],
        unlicensed=bucket["unlicensed"],
        unclear=bucket["unclear"],
    )


@dataclass(frozen=True)
class DatacenterCoverage:
    """What collect read of one datacenter (or, with no datacenter, of a whole service)."""

    service_name: str | None
    datacenter_id: int | None
    name: str | None
    vms_listed: int
    vms_fetched: int
    vm_licensed_read: bool
    failures: tuple[Failure, ...]


def datacenter_coverage(run: RunData) -> list[DatacenterCoverage]:
    """Per datacenter: VMs listed and fetched, and the failures recorded against it.

    Failures of a whole service (or of the service list) get a row of their own, so no
    failure is left out of the per-datacenter view.
    """
    failures: dict[tuple[str | None, int | None], list[Failure]] = defaultdict(list)
    for failure in run.snapshot.coverage.failures:
        failures[(failure.service_name, failure.datacenter_id)].append(failure)
    rows = []
    for service in run.snapshot.services:
        for dc in service.datacenters:
            rows.append(
                DatacenterCoverage(
                    service_name=service.service_name,
                    datacenter_id=dc.datacenter_id,
                    name=text((dc.details or {}).get("name")),
                    vms_listed=len(dc.vm_ids),
                    vms_fetched=len(dc.vms),
                    vm_licensed_read=dc.vm_licensed is not None,
                    failures=tuple(failures.pop((service.service_name, dc.datacenter_id), ())),
                )
            )
    for (service_name, dc_id), unplaced in failures.items():
        rows.append(DatacenterCoverage(service_name, dc_id, None, 0, 0, False, tuple(unplaced)))
    return rows


def describe_failure(failure: Failure) -> str:
    """One line per failure: what could not be read, where, and the error."""
    subject = f"VM {failure.vm_id}" if failure.vm_id is not None else failure.scope.value
    return f"{subject} ({failure.path}): {failure.error}"


def first_seen(finding: Mapping[str, Any]) -> tuple[str | None, date | None]:
    """The history stage's first sighting of a finding: its period and snapshot date."""
    value = finding.get("first_seen")
    if isinstance(value, Mapping):
        return text(value.get("period")), parse_date(value.get("date"))
    return text(value), parse_date(value)


CHANGES: tuple[str, ...] = ("new", "reopened", "persisting")
SEVERITY_RANK: Mapping[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class GoneFinding:
    """A finding of the previous run that this run does not have, and why."""

    rule_id: str
    severity: str | None
    service_name: str | None
    datacenter_id: int | None
    vm_id: int | None
    vm_name: str | None
    first_seen: str | None
    last_seen: str | None
    outcome: str


@dataclass(frozen=True)
class HistoryView:
    """What the history stage added, normalised for display; every part empty when absent.

    `outcome` of a gone finding is the history's reason (fixed, vm_removed), or `unverified`
    when this run could not read its VM: an outage is not a fix.
    """

    previous_period: str | None
    changes: tuple[tuple[str, int], ...]
    events: tuple[Mapping[str, Any], ...]
    event_counts: tuple[tuple[str, int], ...]
    gone: tuple[GoneFinding, ...]
    trend_keys: tuple[str, ...]
    trend: tuple[tuple[Any, ...], ...]

    @property
    def present(self) -> bool:
        return bool(self.previous_period or self.changes or self.events or self.gone)

    @property
    def gone_counts(self) -> list[tuple[str, int]]:
        """Gone findings per outcome (fixed, vm_removed, unverified)."""
        return count_sorted(Counter(gone.outcome for gone in self.gone))


def history_view(run: RunData) -> HistoryView:
    """Read the optional history additions defensively: a report never fails over them."""
    findings = run.findings
    previous = findings.get("previous_run")
    previous_period = text(previous.get("period")) if isinstance(previous, Mapping) else None
    changes = Counter(str(f["change"]) for f in findings.get("findings", []) if f.get("change"))
    events = tuple(_mappings(findings.get("changes")))
    event_counts = Counter(str(event.get("event")) for event in events)
    gone = tuple(
        _gone(item, outcome)
        for key, outcome in (("resolved", None), ("unverified", "unverified"))
        for item in _mappings(findings.get(key))
    )
    rows = _mappings(run.history.get("trend"))
    keys = tuple(dict.fromkeys(str(key) for row in rows for key in row))
    return HistoryView(
        previous_period=previous_period or text(run.history.get("previous_period")),
        changes=tuple(count_sorted(changes, CHANGES)),
        events=events,
        event_counts=tuple(count_sorted(event_counts)),
        gone=gone,
        trend_keys=keys,
        trend=tuple(tuple(_scalar(row.get(key)) for key in keys) for row in rows),
    )


@dataclass(frozen=True)
class OpenDelta:
    """Open findings now against the previous run: per severity (None when not known) and total."""

    period: str
    previous: Mapping[str, int | None]
    change: Mapping[str, int | None]
    previous_total: int
    change_total: int

    def describe(self) -> str:
        """`+3 since 2025-10 (high -1, medium +4)`: the severities that moved, worst first."""
        moved = ", ".join(
            f"{severity} {change:+,}" for severity, change in self.change.items() if change
        )
        return f"{self.change_total:+,} since {self.period}" + (f" ({moved})" if moved else "")


def open_delta(run: RunData) -> OpenDelta | None:
    """The history's previous run counts, if any, compared with this run's open findings."""
    previous = run.history.get("previous")
    if not isinstance(previous, Mapping) or not isinstance(previous.get("open"), int):
        return None
    now: Mapping[str, int] = run.findings.get("summary", {}).get("open_by_severity", {})
    before = previous.get("open_by_severity")
    counts: dict[str, int | None] = {
        severity: integer(before.get(severity)) if isinstance(before, Mapping) else None
        for severity in SEVERITIES
    }
    return OpenDelta(
        period=text(previous.get("period")) or "the previous run",
        previous=counts,
        change={
            severity: None if count is None else now.get(severity, 0) - count
            for severity, count in counts.items()
        },
        previous_total=previous["open"],
        change_total=sum(now.values()) - previous["open"],
    )


def arrivals(run: RunData) -> list[JSONObject]:
    """Findings new or reopened since the previous run (none on a first run), reopened first."""
    if not isinstance(run.findings.get("previous_run"), Mapping):
        return []
    found = [f for f in run.findings.get("findings", []) if f.get("change") in ("new", "reopened")]
    return sorted(
        found, key=lambda f: (f.get("change") != "reopened", SEVERITY_RANK.get(f["severity"], 9))
    )


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _gone(item: Mapping[str, Any], outcome: str | None) -> GoneFinding:
    return GoneFinding(
        rule_id=str(item.get("rule_id", "")),
        severity=text(item.get("severity")),
        service_name=text(item.get("service_name")),
        datacenter_id=integer(item.get("datacenter_id")),
        vm_id=integer(item.get("vm_id")),
        vm_name=text(item.get("vm_name")),
        first_seen=_period(item.get("first_seen")),
        last_seen=_period(item.get("last_seen")),
        outcome=outcome or text(item.get("reason")) or "resolved",
    )


def _period(value: Any) -> str | None:
    return text(value.get("period")) if isinstance(value, Mapping) else text(value)


def _scalar(value: Any) -> Any:
    """Nested values shown as text rather than dropped."""
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {item}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return value


@dataclass(frozen=True)
class Colour:
    """A severity's strong colour (text, bars) and its tint (cell backgrounds)."""

    strong: str
    tint: str


SEVERITY_COLOURS: Mapping[str, Colour] = {
    "high": Colour("#B71C1C", "#FDE0DC"),
    "medium": Colour("#C25E00", "#FFE9CC"),
    "low": Colour("#8D6E00", "#FFF6C7"),
    "info": Colour("#1E5AA8", "#E1ECFA"),
}
