"""The executive summary every report opens with, computed once for the HTML, the workbook and
the mail: the verdict, what changed, the plan, coverage, the register, the API key, the
headline figures with their change since the previous run, and the sign-off block.

It formats the run's figures (audit/evaluate/figures.py) into sentences; it counts nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from audit.evaluate.figures import NO_THRESHOLD, Verdict
from audit.evaluate.headline import FigureKey
from audit.model.endpoints import is_ovhcloud
from audit.model.findings import SEVERITIES
from audit.model.history import Change
from audit.model.snapshot import credential_warnings
from audit.render.base import ReportInput
from audit.render.changes import ChangesDisplay, open_delta
from audit.support.timestamps import utc_day

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


def headline_figures(run: ReportInput) -> list[HeadlineFigure]:
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


def verdict(run: ReportInput) -> SummaryLine:
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


def _changes_line(run: ReportInput, history: ChangesDisplay) -> SummaryLine:
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


def _plan_line(run: ReportInput) -> SummaryLine:
    plan = run.report.run.remediation_plan
    if plan is None:
        return SummaryLine("Remediation plan", "Not recorded in this run's findings.json.")
    return SummaryLine(
        "Remediation plan",
        f"{plan.actions:,} action(s): {plan.set_license:,} setLicense, {plan.remove_license:,} "
        f"removeLicense, {plan.manual:,} manual (remediation/plan.json, sha256 {plan.sha256}).",
        "warn" if plan.set_license or plan.remove_license else "neutral",
    )


def _coverage_line(run: ReportInput) -> SummaryLine:
    coverage = run.report.run.coverage
    read = (
        f"{coverage.services_read:,} of {coverage.services_listed:,} service(s), "
        f"{coverage.datacenters_read:,} of {coverage.datacenters_listed:,} datacenter(s), "
        f"{coverage.vms_fetched:,} of {coverage.vms_listed:,} VM(s) read"
    )
    if coverage.complete:
        return SummaryLine("Coverage", f"Complete: {read}.", "good")
    return SummaryLine("Coverage", f"INCOMPLETE: {read}.", "bad")


def _register_line(run: ReportInput) -> SummaryLine:
    register = run.report.run.exceptions_register
    rows = len(run.report.exceptions)
    if register is None:
        if rows:
            return SummaryLine("Exceptions register", f"{rows:,} row(s); file not recorded.")
        return SummaryLine("Exceptions register", "None applied.")
    return SummaryLine(
        "Exceptions register", f"{register.file} ({rows:,} row(s)), sha256 {register.sha256}."
    )


def period_notice(run: ReportInput) -> str | None:
    """ "Snapshot taken 1 day after the period ended", or None inside the period."""
    meta = run.report.run
    stamp = meta.taken
    if stamp is None:
        return None
    day = utc_day(stamp)
    notice = meta.period.outside_notice(day)
    return None if notice is None else f"Snapshot {notice} ({day.isoformat()})."


def credential_lines(run: ReportInput) -> list[SummaryLine]:
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


def key_expiry_line(run: ReportInput) -> SummaryLine | None:
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


def endpoint_line(run: ReportInput) -> SummaryLine | None:
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


def pace_line(run: ReportInput) -> SummaryLine | None:
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


def executive_summary(run: ReportInput, history: ChangesDisplay) -> list[SummaryLine]:
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


SIGN_OFF_ROLES: tuple[str, ...] = ("Prepared by", "Reviewed by", "Approved by")


def findings_reviewed(run: ReportInput) -> int:
    """Findings with a carried-forward review status (set in the workbook, imported)."""
    history = run.history
    return sum(
        1
        for f in run.report.findings
        if (review := history.review(f.fingerprint)) is not None and review.status
    )
