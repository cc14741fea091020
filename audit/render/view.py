"""What both reports show, computed once from the run folder so the workbook and the HTML agree.

Everything here is pure and deterministic: same RunData, same rows in the same order. Large
tables are generators so the workbook can stream a 100,000-VM fleet.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from audit.evaluate.figures import NO_THRESHOLD, Verdict
from audit.evaluate.headline import FigureKey
from audit.evaluate.knowledge import GuestKind
from audit.model.endpoints import is_ovhcloud
from audit.model.exceptions import REGISTER_COLUMNS
from audit.model.findings import SEVERITIES, Finding
from audit.model.history import (
    Change,
    GoneFinding,
    HistoryResult,
    LicenceEvent,
)
from audit.model.position import LicenceTotal
from audit.model.snapshot import Failure, credential_warnings
from audit.render.base import RunData
from audit.support.timestamps import parse_utc, utc_day

# The register's columns, in the order people keep them (DESIGN.md, "Exceptions register").
EXCEPTION_FIELDS: tuple[str, ...] = REGISTER_COLUMNS

GUEST_KIND_LABELS: Mapping[str, str] = {
    GuestKind.WINDOWS_SERVER: "Windows server",
    GuestKind.WINDOWS_CLIENT: "Windows client",
    GuestKind.NON_WINDOWS: "non-Windows",
    GuestKind.UNKNOWN: "unknown",
}


def parse_date(value: Any) -> date | None:
    """An ISO date (or the UTC day of a timestamp), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        stamp = parse_utc(value)
        return None if stamp is None else utc_day(stamp)


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


def iter_inventory(run: RunData) -> Iterator[InventoryRow]:
    """Every VM of the snapshot, deleted ones included (they are inventoried, not evaluated)."""
    figures = run.figures
    for vm in run.inventory.vms():
        yield InventoryRow(
            service_name=vm.service_name,
            datacenter_id=vm.datacenter_id,
            vm_id=vm.vm_id,
            name=vm.name,
            moref=vm.moref,
            power_state=vm.power_state,
            guest_os_family=vm.guest_os_family,
            guest_kind=GUEST_KIND_LABELS[vm.guest.kind],
            guest_label=vm.guest.label,
            tools_guest_os_family=None if vm.licensed is None else vm.licensed.guest_os_family,
            license=vm.license,
            licence_kind=vm.licence.kind.value,
            vcpus=vm.vcpus,
            memory_mb=vm.memory_mb,
            cluster=vm.cluster,
            host=vm.host,
            folder=vm.folder,
            rule_ids=", ".join(figures.rules_of(vm.key)),
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
    for failure in run.inventory.coverage.failures:
        failures[(failure.service_name, failure.datacenter_id)].append(failure)
    rows = []
    for dc in run.inventory.datacenters:
        rows.append(
            DatacenterCoverage(
                service_name=dc.service_name,
                datacenter_id=dc.datacenter_id,
                name=dc.name,
                vms_listed=len(dc.vm_ids),
                vms_fetched=len(dc.vms),
                vm_licensed_read=dc.licensed is not None,
                failures=tuple(failures.pop((dc.service_name, dc.datacenter_id), ())),
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
        """Only a run with a previous one has changes: on a first run every finding is
        "new", which says nothing, so neither report lists them."""
        return self.previous_period is not None

    @property
    def gone_counts(self) -> list[tuple[str, int]]:
        """Gone findings per outcome (fixed, vm_removed, unverified)."""
        return count_sorted(Counter(gone.outcome for gone in self.gone))


def changes_display(run: RunData) -> ChangesDisplay:
    """Counts and rows both reports show of what the history stage added."""
    result = run.report.history or HistoryResult()
    previous = result.previous_run or run.history.previous
    changes = Counter(f.change.value for f in run.report.findings if f.change is not None)
    if previous is None:
        changes.clear()
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
    return sorted(found, key=lambda f: (f.change is not Change.REOPENED, f.severity.rank))


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


FIGURE_TONES: Mapping[str, tuple[str, str]] = {
    # figure key: (tone when the value is not zero, tone when it is)
    "unlicensed_server_guests": ("bad", "good"),
    "windows_guests_correctly_licensed": ("neutral", "neutral"),
    "licences_possibly_wasted": ("warn", "good"),
    "byol_covered_guests": ("neutral", "neutral"),
}


@dataclass(frozen=True)
class HeadlineFigure:
    """One headline figure as both reports print it: value, its one-sentence definition, and
    its change since the previous run (None without one, or when that run did not keep it)."""

    key: str
    label: str
    value: int
    of: int | None
    definition: str
    change: int | None
    previous_period: str | None
    vm_days: int | None = None  # the unbilled figure's observed days without a licence

    @property
    def days_text(self) -> str | None:
        """`1,174 VM-days`, beside the unbilled figure; None for the others."""
        return None if self.vm_days is None else f"{self.vm_days:,} VM-days"

    @property
    def text(self) -> str:
        """`20`, `41 (1,174 VM-days)`, or `351 of 407 (86 %)` for a share."""
        if self.days_text is not None:
            return f"{self.value:,} ({self.days_text})"
        if self.of is None:
            return f"{self.value:,}"
        share = f" ({self.value / self.of:.0%})" if self.of else ""
        return f"{self.value:,} of {self.of:,}{share}"

    @property
    def tone(self) -> str:
        """good, warn, bad or neutral, as the reports and the mail colour the figure."""
        busy, idle = FIGURE_TONES[self.key]
        return busy if self.value else idle

    @property
    def change_text(self) -> str | None:
        if self.change is None or self.previous_period is None:
            return None
        moved = "no change" if self.change == 0 else f"{self.change:+,}"
        return f"{moved} since {self.previous_period}"


def headline_figures(run: RunData) -> list[HeadlineFigure]:
    """The four headline figures (findings.json `summary.headline`), each with its change
    since the previous run when that run kept it."""
    previous = run.history.previous
    before = previous.headline if previous is not None else {}
    return [
        HeadlineFigure(
            key=figure.key.value,
            label=figure.definition.label,
            value=figure.value,
            of=figure.of,
            definition=figure.definition.sentence,
            change=figure.value - before[figure.key.value] if figure.key.value in before else None,
            previous_period=None if previous is None else previous.period,
            vm_days=run.figures.ran_total.unbilled_vm_days
            if figure.key is FigureKey.UNLICENSED_SERVER_GUESTS
            else None,
        )
        for figure in run.figures.headline
    ]


@dataclass(frozen=True)
class SummaryLine:
    """One line of the executive summary: a label, the sentence, and a tone (good, warn, bad,
    neutral) the reports colour it by."""

    label: str
    text: str
    tone: str = "neutral"


def verdict(run: RunData) -> SummaryLine:
    """The run against `--fail-on`, in words (the job's exit code, said for a reader), and
    the period's status when it was not over or not every day was observed."""
    line = verdict_line(run.figures.verdict)
    status = run.figures.period
    if status is None:
        return line
    return replace(line, text=f"{line.text} {status.sentence}")


def verdict_line(judged: Verdict) -> SummaryLine:
    """A verdict in words: the reports' line, and the run summary's last lines."""
    if not judged.complete:
        return SummaryLine(
            "Verdict",
            "INCOMPLETE: some objects could not be read, so this audit may miss findings "
            "(exit code 3).",
            "bad",
        )
    fail_on = judged.fail_on
    if fail_on is None:
        return SummaryLine("Verdict", "Not recorded: this run predates the recorded threshold.")
    if fail_on == NO_THRESHOLD:
        return SummaryLine("Verdict", "No threshold: the run was made with --fail-on never.")
    scope = fail_on if fail_on == SEVERITIES[0] else f"{fail_on} or worse"
    if judged.failing:
        return SummaryLine(
            "Verdict",
            f"FAIL: {judged.failing:,} open finding(s) of severity {scope} (--fail-on {fail_on}).",
            "bad",
        )
    return SummaryLine(
        "Verdict", f"PASS: no open finding of severity {scope} (--fail-on {fail_on}).", "good"
    )


def _changes_line(run: RunData, history: ChangesDisplay) -> SummaryLine:
    if not history.present:
        return SummaryLine("Since last run", "First run: there is no previous run to compare with.")
    counts = dict(history.changes)
    gone = sum(count for _, count in history.gone_counts)
    delta = open_delta(run)
    parts = [
        f"{counts.get(Change.NEW.value, 0):,} new",
        f"{counts.get(Change.REOPENED.value, 0):,} reopened",
        f"{gone:,} gone",
        f"{len(history.events):,} licence or guest OS event(s)",
    ]
    opened = "" if delta is None else f"; open findings {delta.describe()}"
    return SummaryLine(
        "Since last run", f"Since {history.previous_period}: " + ", ".join(parts) + opened + "."
    )


def _plan_line(run: RunData) -> SummaryLine:
    plan = run.report.run.remediation_plan
    if plan is None:
        return SummaryLine("Remediation plan", "Not recorded in this run's findings.json.")
    return SummaryLine(
        "Remediation plan",
        f"{plan.actions:,} action(s): {plan.set_license:,} setLicense, {plan.remove_license:,} "
        f"removeLicense, {plan.manual:,} manual (remediation/plan.json, sha256 {plan.sha256}).",
        "warn" if plan.set_license or plan.remove_license else "neutral",
    )


def _coverage_line(run: RunData) -> SummaryLine:
    coverage = run.report.run.coverage
    read = (
        f"{coverage.services_read:,} of {coverage.services_listed:,} service(s), "
        f"{coverage.datacenters_read:,} of {coverage.datacenters_listed:,} datacenter(s), "
        f"{coverage.vms_fetched:,} of {coverage.vms_listed:,} VM(s) read"
    )
    if coverage.complete:
        return SummaryLine("Coverage", f"Complete: {read}.", "good")
    return SummaryLine("Coverage", f"INCOMPLETE: {read}.", "bad")


def _register_line(run: RunData) -> SummaryLine:
    register = run.report.run.exceptions_register
    rows = len(run.report.exceptions)
    if register is None:
        if rows:
            return SummaryLine("Exceptions register", f"{rows:,} row(s); file not recorded.")
        return SummaryLine("Exceptions register", "None applied.")
    return SummaryLine(
        "Exceptions register", f"{register.file} ({rows:,} row(s)), sha256 {register.sha256}."
    )


def period_notice(run: RunData) -> str | None:
    """ "Snapshot taken 1 day after the period ended", or None inside the period."""
    meta = run.report.run
    stamp = meta.taken
    if stamp is None:
        return None
    day = utc_day(stamp)
    notice = meta.period.outside_notice(day)
    return None if notice is None else f"Snapshot {notice} ({day.isoformat()})."


def credential_lines(run: RunData) -> list[SummaryLine]:
    """The consumer key's rights and expiry as recorded in the snapshot, and the warnings."""
    credential = run.inventory.meta.credential
    if credential is None:
        return [SummaryLine("API key", "Not recorded (a snapshot older than this version).")]
    if credential.known:
        rights = ", ".join(f"{rule.method.upper()} {rule.path}" for rule in credential.rules)
        expiry = credential.expiration or "never"
        lines = [
            SummaryLine(
                "API key",
                f"{credential.status}; rights: {rights or 'none listed'}; expires {expiry}.",
            )
        ]
    else:
        lines = []
    lines += [
        SummaryLine("Warning", warning[0].upper() + warning[1:] + ".", "bad")
        for warning in credential_warnings(credential, run.inventory.taken_at)
    ]
    return lines


def key_expiry_line(run: RunData) -> SummaryLine | None:
    """A consumer key without expiry, said plainly: it stays valid until someone revokes it."""
    credential = run.inventory.meta.credential
    if credential is None or not credential.known or credential.expiration is not None:
        return None
    return SummaryLine(
        "Warning",
        "The consumer key never expires: it stays valid until revoked. Ask for one with a "
        "validity (ovh-license-audit auth request) and revoke this one.",
        "warn",
    )


def endpoint_line(run: RunData) -> SummaryLine | None:
    """An endpoint that is not one of the OVHcloud API's (a simulator, a proxy), said plainly."""
    endpoint = run.report.run.endpoint
    if is_ovhcloud(endpoint):
        return None
    return SummaryLine(
        "API endpoint",
        f"{endpoint or 'not recorded'} is not an OVHcloud API endpoint (a simulator, a proxy or "
        "a test server): these figures are what it answered, not an OVHcloud account's.",
        "bad",
    )


def pace_line(run: RunData) -> SummaryLine | None:
    """How the API answered: throttling and listing fallbacks, when there were any."""
    meta = run.inventory.meta
    parts = []
    if meta.throttled:
        parts.append(f"{meta.throttled:,} call(s) throttled (HTTP 429)")
    if meta.rate_reached:
        parts.append(f"pace at the end {meta.rate_reached:g} calls/s")
    if meta.listing_fallbacks:
        parts.append(f"per-VM reads in {len(meta.listing_fallbacks):,} datacenter(s)")
    if not parts:
        return None
    return SummaryLine("API pace", "; ".join(parts) + ".")


def executive_summary(run: RunData, history: ChangesDisplay) -> list[SummaryLine]:
    """What a reader signs off on, first in both reports."""
    lines = [verdict(run)]
    notice = period_notice(run)
    if notice is not None:
        lines.append(SummaryLine("Period", f"{run.report.run.period}: {notice}", "warn"))
    lines += [
        _changes_line(run, history),
        _plan_line(run),
        _coverage_line(run),
        _register_line(run),
        *credential_lines(run),
    ]
    lines += [line for line in (key_expiry_line(run), endpoint_line(run)) if line is not None]
    pace = pace_line(run)
    if pace is not None:
        lines.append(pace)
    return lines


def total_label(total: LicenceTotal) -> tuple[str, str]:
    """(service, licence) cells of a totals row: 'all services' / 'all billable' for Nones."""
    return (
        total.service_name or "all services",
        total.license or "all billable licences",
    )


SIGN_OFF_ROLES: tuple[str, ...] = ("Prepared by", "Reviewed by", "Approved by")


def findings_reviewed(run: RunData) -> int:
    """Findings with a carried-forward review status (set in the workbook, imported)."""
    history = run.history
    return sum(
        1
        for f in run.report.findings
        if (review := history.review(f.fingerprint)) is not None and review.status
    )
