"""What both reports show, computed once from the run folder so the workbook and the HTML agree.

Everything here is pure and deterministic: same RunData, same rows in the same order. Large
tables are generators so the workbook can stream a 100,000-VM fleet.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from audit.coerce import integer, text
from audit.evaluate.knowledge import GuestKind, LicenceKind
from audit.evaluate.records import DELETED, VmRecord
from audit.evaluate.rules.registry import RULES
from audit.model.exceptions import REGISTER_COLUMNS
from audit.model.findings import SEVERITIES, STATUSES, Finding, Status
from audit.model.history import (
    Change,
    GoneFinding,
    HistoryResult,
    HistoryView,
    LicenceEvent,
)
from audit.render.base import RunData
from audit.snapshot import Failure

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


def review_of(history: HistoryView, finding: Finding) -> tuple[str | None, str | None, str | None]:
    """Carried-forward (status, owner, comment) for a finding; Nones when there is none."""
    review = history.reviews.get(finding.fingerprint) if history.reviews else None
    if review is None:
        return None, None, None
    return review.status, review.owner, review.comment


_STATUS_RANK: Mapping[str, int] = {status: rank for rank, status in enumerate(STATUSES)}


def finding_order(
    catalogue: Mapping[str, RuleInfo],
) -> Callable[[Finding], tuple[Any, ...]]:
    """Sort key shared by both reports: worst rule first, open before excepted, then by VM.

    The workbook is protected, and Excel cannot sort a protected range, so its rows must
    already be in the order an auditor reads them.
    """
    ranks = {rule_id: rule_order(catalogue, rule_id) for rule_id in catalogue}

    def key(finding: Finding) -> tuple[Any, ...]:
        rule_id = finding.rule_id
        rank = ranks.get(rule_id)
        dc_id, vm_id = finding.datacenter_id, finding.vm_id
        return (
            rule_order(catalogue, rule_id) if rank is None else rank,
            _STATUS_RANK[finding.status.value],
            finding.service_name,
            -1 if dc_id is None else dc_id,
            -1 if vm_id is None else vm_id,
        )

    return key


def finding_values(finding: Finding) -> tuple[Any, ...]:
    """The finding's own fields as both tables list them first (rule_id ... message)."""
    return (
        finding.rule_id,
        finding.severity.value,
        finding.status.value,
        finding.service_name,
        finding.datacenter_id,
        finding.vm_id,
        finding.vm_name,
        finding.moref,
        finding.power_state,
        finding.guest_os_family,
        finding.license,
        finding.message,
    )


def has_history(findings: Sequence[Finding]) -> bool:
    """True when the history stage has marked the findings (first seen, change)."""
    return any(f.first_seen is not None or f.change is not None for f in findings)


def open_by_rule(findings: Sequence[Finding]) -> Counter[str]:
    """Open findings per rule id (findings.json's summary counts every status)."""
    return Counter(f.rule_id for f in findings if f.status is Status.OPEN)


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


def rules_by_vm(
    findings: Sequence[Finding],
) -> dict[tuple[str, int | None, int | None], list[str]]:
    """Rule ids raised per (service, datacenter, VM), in findings order, for the inventory."""
    by_vm: dict[tuple[str, int | None, int | None], list[str]] = defaultdict(list)
    for finding in findings:
        if finding.vm_id is None:
            continue
        key = (finding.service_name, finding.datacenter_id, finding.vm_id)
        if finding.rule_id not in by_vm[key]:
            by_vm[key].append(finding.rule_id)
    return by_vm


def iter_inventory(run: RunData) -> Iterator[InventoryRow]:
    """Every VM of the snapshot, deleted ones included (they are inventoried, not evaluated)."""
    by_vm = rules_by_vm(run.report.findings)
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
        (f.service_name, f.datacenter_id, f.vm_id)
        for f in run.report.findings
        if f.status is Status.BYOL
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


def first_seen(finding: Finding) -> tuple[str | None, date | None]:
    """The history stage's first sighting of a finding: its period and snapshot date."""
    if finding.first_seen is None:
        return None, None
    return finding.first_seen.period, parse_date(finding.first_seen.date)


CHANGES: tuple[str, ...] = tuple(c.value for c in (Change.NEW, Change.REOPENED, Change.PERSISTING))
SEVERITY_RANK: Mapping[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}
TREND_KEYS: tuple[str, ...] = ("period", *SEVERITIES, "open")


@dataclass(frozen=True)
class ChangesDisplay:
    """The history's additions tallied for display (the records come from the history stage).

    `gone` lists resolved then unverified findings; each one's `outcome` says which.
    """

    previous_period: str | None
    changes: tuple[tuple[str, int], ...]
    events: tuple[LicenceEvent, ...]
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


def changes_display(run: RunData) -> ChangesDisplay:
    """Counts and rows both reports show of what the history stage added."""
    result = run.report.history or HistoryResult()
    previous = result.previous_run or run.history.previous
    changes = Counter(f.change.value for f in run.report.findings if f.change is not None)
    trend = run.history.trend
    return ChangesDisplay(
        previous_period=None if previous is None else previous.period,
        changes=tuple(count_sorted(changes, CHANGES)),
        events=result.changes,
        event_counts=tuple(count_sorted(Counter(event.event.value for event in result.changes))),
        gone=result.gone,
        trend_keys=TREND_KEYS if trend else (),
        trend=tuple(point.row() for point in trend),
    )


@dataclass(frozen=True)
class OpenDelta:
    """Open findings now against the previous run: per severity and total."""

    period: str
    previous: Mapping[str, int]
    change: Mapping[str, int]
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
    previous = run.history.previous
    if previous is None:
        return None
    now = run.report.summary.open_by_severity
    counts = {severity: previous.open_by_severity[severity] for severity in SEVERITIES}
    return OpenDelta(
        period=previous.period,
        previous=counts,
        change={severity: now.get(severity, 0) - count for severity, count in counts.items()},
        previous_total=previous.open,
        change_total=sum(now.values()) - previous.open,
    )


def arrivals(run: RunData) -> list[Finding]:
    """Findings new or reopened since the previous run (none on a first run), reopened first."""
    if run.report.history is None or run.report.history.previous_run is None:
        return []
    found = [f for f in run.report.findings if f.change in (Change.NEW, Change.REOPENED)]
    return sorted(
        found, key=lambda f: (f.change is not Change.REOPENED, SEVERITY_RANK[f.severity.value])
    )


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
