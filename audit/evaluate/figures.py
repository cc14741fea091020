"""The business figures every report and the mail show, computed once per run from its
inventory and its report (findings.json): the verdict, the headline figures, the findings by
severity and rule, the VMs audited, the Windows guests by licence situation, the licence
tallies and position with their totals.

`report_figures` runs when the job renders and when `report RUN_DIR` or `mail RUN_DIR` read a
run folder back, so every output says the same thing; the renderers and the mail only format
these records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from audit.evaluate import headline, position, signed
from audit.evaluate.headline import Figure, FigureKey, WindowsCoverage
from audit.evaluate.inventory import Inventory
from audit.evaluate.period_status import PeriodStatus, period_status
from audit.evaluate.signed import PositionLine, WindowsRan
from audit.model.findings import SEVERITIES, Finding, Severity, Status
from audit.model.history import Change
from audit.model.identity import VmKey
from audit.model.position import LicencePosition, LicenceUsage, UsageTotals
from audit.model.run import RunReport
from audit.support.errors import ExitCode

NO_THRESHOLD = "never"


@dataclass(frozen=True)
class Verdict:
    """The run against its `--fail-on` threshold: the job's exit code, for a reader too.

    `fail_on` is the threshold the run recorded (None: a run older than the recording);
    `failing` the open findings of that severity or worse (0 without a threshold).
    """

    complete: bool
    fail_on: str | None
    failing: int

    @property
    def exit_code(self) -> ExitCode:
        """3 when the collection was incomplete, else 1 when a finding fails the threshold."""
        if not self.complete:
            return ExitCode.INCOMPLETE
        return ExitCode.FINDINGS if self.failing else ExitCode.OK


def verdict(complete: bool, fail_on: str | None, findings: tuple[Finding, ...]) -> Verdict:
    """Count the open findings at or above `fail_on` (none for `never` or no threshold)."""
    failing = 0
    if fail_on is not None and fail_on != NO_THRESHOLD:
        threshold = Severity(fail_on)
        failing = sum(
            1 for f in findings if f.status is Status.OPEN and f.severity.at_least(threshold)
        )
    return Verdict(complete, fail_on, failing)


@dataclass(frozen=True)
class SeverityCount:
    """Findings of one severity, and how many are open (the others are excepted)."""

    severity: str
    findings: int
    open: int

    @property
    def excepted(self) -> int:
        return self.findings - self.open


@dataclass(frozen=True)
class VmCounts:
    """The VMs the snapshot read, and the deleted ones among them (inventoried only)."""

    read: int
    deleted: int

    @property
    def audited(self) -> int:
        """The VMs the rules evaluated: read and not deleted."""
        return self.read - self.deleted


@dataclass(frozen=True)
class ReportFigures:
    """Everything a report or the mail quotes as a number, computed by `report_figures`."""

    verdict: Verdict
    headline: tuple[Figure, ...]
    unlicensed: int  # the headline figure: open WIN-UNLICENSED findings
    new_unlicensed: int  # of those, new or reopened since the previous run (0 on a first run)
    severities: tuple[SeverityCount, ...]  # every severity, worst first
    findings: int
    open: int
    open_by_rule: Counter[str]
    exception_states: Counter[str]  # register rows per state (valid, expired, stale)
    vms: VmCounts
    windows: tuple[WindowsCoverage, ...]  # per datacenter
    windows_by_service: tuple[WindowsCoverage, ...]
    windows_total: WindowsCoverage
    usage: tuple[LicenceUsage, ...]
    usage_totals: UsageTotals
    position: LicencePosition
    signed: tuple[PositionLine, ...]  # the first page: per service and value, with totals
    ran_by_service: tuple[WindowsRan, ...]  # Windows server guests that ran, per service
    ran_total: WindowsRan  # ... and over every service; `unbilled` is the headline figure
    rules_by_vm: Mapping[VmKey, tuple[str, ...]]
    # The period not over yet, or days of it not observed; None: closed and fully observed.
    period: PeriodStatus | None = None

    def rules_of(self, key: VmKey | None) -> tuple[str, ...]:
        """The rule ids raised for a VM (any status), in findings order."""
        return () if key is None else self.rules_by_vm.get(key, ())


def report_figures(inventory: Inventory, report: RunReport) -> ReportFigures:
    """The figures of a run, from its inventory and findings.json's content.

    A findings.json written before a figure was stored (headline, licence position) gets it
    computed here from the inventory and the findings, as the job would have.
    """
    findings = report.findings
    summary = report.summary
    kept = summary.headline or headline.counts(headline.headline(inventory, findings))
    figures = headline.from_counts(kept)
    unlicensed = next(
        (f.value for f in figures if f.key is FigureKey.UNLICENSED_SERVER_GUESTS),
        headline.unlicensed_server_guests(findings).value,
    )
    windows = headline.windows_coverage(inventory, findings)
    rows = report.licences or position.licences(summary.licence_usage, inventory)
    vms = list(inventory.vms())
    ran_by_service, ran_total = signed.windows_ran(inventory, findings, report.exposure)
    return ReportFigures(
        verdict=verdict(report.run.coverage.complete, report.run.fail_on, findings),
        headline=figures,
        unlicensed=unlicensed,
        new_unlicensed=_new_unlicensed(report),
        severities=tuple(
            SeverityCount(
                severity,
                summary.by_severity.get(severity, 0),
                summary.open_by_severity.get(severity, 0),
            )
            for severity in SEVERITIES
        ),
        findings=sum(summary.by_severity.values()),
        open=sum(summary.open_by_severity.values()),
        open_by_rule=Counter(f.rule_id for f in findings if f.status is Status.OPEN),
        exception_states=Counter(state.state.value for state in report.exceptions),
        vms=VmCounts(len(vms), sum(1 for vm in vms if vm.deleted)),
        windows=windows,
        windows_by_service=headline.per_service(windows),
        windows_total=headline.coverage_total(windows),
        usage=summary.licence_usage,
        usage_totals=position.usage_totals(summary.licence_usage),
        position=LicencePosition(
            rows=rows,
            totals=position.licence_totals(rows),
            control_panel=report.control_panel or position.control_panel(inventory),
            costs=report.costs,
        ),
        signed=signed.position_lines(rows),
        ran_by_service=ran_by_service,
        ran_total=ran_total,
        rules_by_vm=headline.rules_by_vm(findings),
        period=period_status(report),
    )


def _new_unlicensed(report: RunReport) -> int:
    """Open findings of the unlicensed headline figure that are new or reopened since the
    previous run; 0 when there is no previous run."""
    if report.history is None or report.history.previous_run is None:
        return 0
    rules = headline.DEFINITIONS[FigureKey.UNLICENSED_SERVER_GUESTS].rule_ids
    return sum(
        1
        for f in report.findings
        if f.change in (Change.NEW, Change.REOPENED)
        and f.rule_id in rules
        and f.status is Status.OPEN
    )
