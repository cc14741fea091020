"""report.html: the one page a licence owner reads, mailed as a single self-contained file.

Rendered by jinja2 with autoescape on and StrictUndefined: VM names are attacker-controlled,
and a template typo must fail the run rather than print an empty cell. Nothing is fetched:
CSS and the small script are inline (allowed by hash in a Content-Security-Policy that
forbids everything else), charts are inline SVG. Each rule lists at most `rows_per_rule`
findings so a 100,000-VM fleet still gives a page a browser opens at once; the workbook has
them all.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from itertools import groupby
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from audit.evaluate.signed import PositionLine
from audit.model.exceptions import ExceptionRow
from audit.model.exposure import BILLING_RULE
from audit.model.findings import SEVERITIES, STATUSES, Finding, Status
from audit.model.history import HistoryView
from audit.model.snapshot import Coverage
from audit.render.base import ReportInput
from audit.render.catalogue import RuleCatalogue, RuleInfo, rule_catalogue
from audit.render.changes import ChangesDisplay, arrivals, changes_display, open_delta
from audit.render.coverage import datacenter_coverage, describe_failure
from audit.render.exposure import exposure_display
from audit.render.findings import first_seen, has_history
from audit.render.position import total_label
from audit.render.reconciliation import reconciliation_display
from audit.render.remediation import remediation_display
from audit.render.safe_text import visible_controls
from audit.render.summary import (
    SIGN_OFF_ROLES,
    HeadlineFigure,
    executive_summary,
    findings_reviewed,
    headline_figures,
)

ROWS_PER_RULE = 200
ROWS_PER_TABLE = 500
# New and reopened findings are what a monthly reader looks for first: shown unfolded when few.
ARRIVALS_SHOWN_OPEN = 50
_TEMPLATES = "audit.templates"


def _finalize(value: Any) -> Any:
    """Applied to every printed value: control characters made visible, our markup untouched."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible_controls(value)
    return value


@functools.cache
def _environment() -> Environment:
    """One environment per process: templates compile once, not on every report."""
    return Environment(
        loader=PackageLoader(_TEMPLATES, "."),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


class HtmlReport:
    """The Renderer for report.html."""

    filename = "report.html"

    def __init__(self, rows_per_rule: int = ROWS_PER_RULE) -> None:
        self.rows_per_rule = rows_per_rule

    def render(self, run: ReportInput, path: Path) -> None:
        """Write the page; unencodable API text (lone surrogates) is escaped, never fatal."""
        page = render_html(run, self.rows_per_rule)
        path.write_bytes(page.encode("utf-8", errors="backslashreplace"))


def render_html(run: ReportInput, rows_per_rule: int = ROWS_PER_RULE) -> str:
    """The page as text: same ReportInput, same characters."""
    css = _asset("report.css")
    script = _asset("report.js")
    context = build_context(run, rows_per_rule)
    template = _environment().get_template("report.html.j2")
    return template.render(
        css=Markup(css),  # noqa: S704 - our packaged stylesheet, not data
        script=Markup(script),  # noqa: S704 - our packaged script, not data
        csp=f"default-src 'none'; style-src '{_sha256(css)}'; script-src '{_sha256(script)}'; "
        "base-uri 'none'; form-action 'none'",
        **context,
    )


def _asset(name: str) -> str:
    return files(_TEMPLATES).joinpath(name).read_text(encoding="utf-8")


def _sha256(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class Tile:
    """A KPI tile; `tone` (bad, warn, good, neutral) colours its edge."""

    label: str
    value: str
    note: str
    tone: str
    delta: str | None = None


@dataclass(frozen=True)
class Segment:
    """One coloured part of a bar, already in SVG coordinates."""

    x: float
    width: float
    tone: str
    name: str
    value: int


@dataclass(frozen=True)
class BarRow:
    """One bar: its (possibly shortened) label, its total and its segments."""

    label: str
    full_label: str
    y: float
    total: int
    total_x: float
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Chart:
    """A horizontal stacked bar chart, laid out here so the template only draws it."""

    id: str
    title: str
    description: str
    width: int
    height: int
    label_width: int
    rows: tuple[BarRow, ...]
    legend: tuple[tuple[str, str], ...]


_CHART_WIDTH = 390
_LABEL_WIDTH = 160
_ROW_HEIGHT = 24
_TOP = 4
_LABEL_CHARS = 22


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    rows: Sequence[tuple[str, Sequence[tuple[str, str, int]]]],
    legend: Sequence[tuple[str, str]],
) -> Chart:
    """Stacked bars: `rows` are (label, [(tone, name, value), ...]), scaled to the largest."""
    area = _CHART_WIDTH - _LABEL_WIDTH - 48
    largest = max((sum(v for _, _, v in parts) for _, parts in rows), default=0) or 1
    laid_out = []
    for index, (label, parts) in enumerate(rows):
        x = float(_LABEL_WIDTH)
        segments = []
        for tone, name, value in parts:
            if value <= 0:
                continue
            width = round(max(area * value / largest, 2.0), 1)
            segments.append(Segment(round(x, 1), width, tone, name, value))
            x += width
        short = label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "\u2026"
        laid_out.append(
            BarRow(
                label=short,
                full_label=label,
                y=_TOP + index * _ROW_HEIGHT,
                total=sum(v for _, _, v in parts),
                total_x=round(x + 6, 1),
                segments=tuple(segments),
            )
        )
    return Chart(
        id=chart_id,
        title=title,
        description=description,
        width=_CHART_WIDTH,
        height=_TOP * 2 + max(len(rows), 1) * _ROW_HEIGHT,
        label_width=_LABEL_WIDTH,
        rows=tuple(laid_out),
        legend=tuple(legend),
    )


@dataclass(frozen=True)
class ExceptionInfo:
    """The register row behind a finding's status, as the page shows it."""

    kind: str
    rule_id: str | None
    approved_by: str | None
    expires: str | None
    reference: str | None
    reason: str | None


@dataclass(frozen=True)
class FindingRow:
    """One finding as a table row: the finding itself, and what the page shows beside it
    (its exception row, first sighting and change as text, its carried-forward review)."""

    finding: Finding
    exception: ExceptionInfo | None
    first_seen: str | None
    change: str | None
    review_status: str | None
    review_owner: str | None
    review_comment: str | None


@dataclass(frozen=True)
class RuleGroup:
    """The findings of one rule: the first rows in full, the rest counted."""

    rule: RuleInfo
    total: int
    open: int
    rows: tuple[FindingRow, ...]
    more: int
    expanded: bool


def _exception_info(row: ExceptionRow | None) -> ExceptionInfo | None:
    if row is None:
        return None
    return ExceptionInfo(
        kind=row.kind.value,
        rule_id=row.rule_id or None,
        approved_by=row.approved_by or None,
        expires=None if row.expires is None else row.expires.isoformat(),
        reference=row.reference or None,
        reason=row.reason or None,
    )


def _first_seen_text(finding: Finding) -> str | None:
    period, seen = first_seen(finding)
    return period or (seen.isoformat() if seen else None)


def _finding_row(finding: Finding, history: HistoryView) -> FindingRow:
    status, owner, comment = history.review_cells(finding.fingerprint)
    return FindingRow(
        finding=finding,
        exception=_exception_info(finding.exception),
        first_seen=_first_seen_text(finding),
        change=None if finding.change is None else finding.change.value,
        review_status=status,
        review_owner=owner,
        review_comment=comment,
    )


def rule_groups(run: ReportInput, catalogue: RuleCatalogue, rows_per_rule: int) -> list[RuleGroup]:
    """Findings grouped by rule in catalogue order, open ones first, capped per rule."""
    by_rule: dict[str, list[Finding]] = {}
    for finding in run.report.findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    order = catalogue.finding_order()
    groups = []
    for rule_id in sorted(by_rule, key=catalogue.order):
        findings = sorted(by_rule[rule_id], key=order)
        rule = catalogue.rule(rule_id, findings[0].severity.value)
        open_count = sum(1 for f in findings if f.status is Status.OPEN)
        groups.append(
            RuleGroup(
                rule=rule,
                total=len(findings),
                open=open_count,
                rows=tuple(_finding_row(f, run.history) for f in findings[:rows_per_rule]),
                more=max(len(findings) - rows_per_rule, 0),
                expanded=rule.severity == "high" and open_count > 0,
            )
        )
    return groups


def _figure_tile(figure: HeadlineFigure) -> Tile:
    """A headline figure: its value, its change, and the sentence that defines it."""
    value = f"{figure.value:,}"
    if figure.of is not None:
        value = f"{figure.value / figure.of:.0%}" if figure.of else "n/a"
    note = figure.definition
    if figure.days_text is not None:
        note = f"{figure.days_text} powered on without a licence. {note}"
    if figure.of is not None:
        note = f"{figure.value:,} of {figure.of:,}. {note}"
    return Tile(figure.label, value, note, figure.tone, figure.change_text)


def _tiles(run: ReportInput, figures: Sequence[HeadlineFigure]) -> list[Tile]:
    """Open findings, the four headline figures, what was audited, the register's state."""
    counts = run.figures
    high = counts.severities[0].open
    vms = counts.vms
    states = counts.exception_states
    delta = open_delta(run)
    return [
        Tile(
            "Open findings",
            f"{counts.open:,}",
            " \u00b7 ".join(f"{count.open:,} {count.severity}" for count in counts.severities)
            + f". Findings no valid exception covers, of {len(run.report.findings):,} in all.",
            "bad" if high else ("warn" if counts.open else "good"),
            None if delta is None else delta.describe(),
        ),
        *(_figure_tile(figure) for figure in figures),
        Tile(
            "VMs audited",
            f"{vms.audited:,}",
            f"The {vms.read:,} VMs read, less {vms.deleted:,} deleted ones (inventoried, not "
            "evaluated).",
            "neutral",
        ),
        Tile(
            "Exceptions",
            f"{sum(states.values()):,}",
            f"Register rows: {states['valid']:,} valid \u00b7 {states['expired']:,} expired "
            f"\u00b7 {states['stale']:,} stale",
            "warn" if states["expired"] or states["stale"] else "neutral",
        ),
    ]


# WindowsRan buckets as (field, colour class, legend name): the headline's own definitions.
_RAN_PARTS = (
    ("billed", "licensed", "Billed this period"),
    ("byol", "byol", "BYOL (own licence)"),
    ("unbilled", "unlicensed", "Ran unbilled (the headline figure)"),
    ("other", "unclear", "Other (waived, a value not billed)"),
)


def _charts(run: ReportInput, catalogue: RuleCatalogue) -> list[Chart]:
    """Findings by severity and by rule (open vs excepted), Windows guests per service."""
    figures = run.figures
    by_rule = run.report.summary.by_rule
    open_counts = figures.open_by_rule
    excepted = ("excepted", "Excepted (waived or BYOL)")
    return [
        bar_chart(
            "by-severity",
            "Findings by severity",
            "Open findings and findings covered by a valid exception, per severity.",
            [
                (
                    count.severity,
                    [
                        (count.severity, "Open", count.open),
                        ("excepted", excepted[1], count.excepted),
                    ],
                )
                for count in figures.severities
            ],
            [(s, f"Open, {s}") for s in SEVERITIES] + [excepted],
        ),
        bar_chart(
            "by-rule",
            "Findings by rule",
            "Per rule, coloured by the rule's severity; grey: covered by an exception.",
            [
                (
                    rule_id,
                    [
                        (
                            catalogue.rule(rule_id, "info").severity,
                            "Open",
                            open_counts[rule_id],
                        ),
                        ("excepted", excepted[1], count - open_counts[rule_id]),
                    ],
                )
                for rule_id, count in sorted(
                    by_rule.items(), key=lambda item: catalogue.order(item[0])
                )
                if count
            ],
            [excepted],
        ),
        bar_chart(
            "windows",
            "Windows Server guests that ran, per service",
            "Windows Server guests powered on on an observed day of the period, by what "
            "OVHcloud bills for them; ran unbilled: the open WIN-UNLICENSED findings, as the "
            "headline counts them.",
            [
                (
                    ran.service_name or "",
                    [(tone, name, getattr(ran, field)) for field, tone, name in _RAN_PARTS],
                )
                for ran in figures.ran_by_service
            ],
            [(tone, name) for _, tone, name in _RAN_PARTS],
        ),
    ]


def _coverage_gaps(coverage: Coverage) -> list[str]:
    """'1 of 3 datacenters'-style phrases for each level where something could not be read."""
    levels = (
        (coverage.services_failed, coverage.services_listed, "services"),
        (coverage.datacenters_failed, coverage.datacenters_listed, "datacenters"),
        (coverage.vms_failed, coverage.vms_listed, "VMs"),
    )
    return [f"{failed:,} of {listed:,} {noun}" for failed, listed, noun in levels if failed]


def _timestamp(value: str, stamp: datetime | None) -> str:
    return value if stamp is None else stamp.strftime("%Y-%m-%d %H:%M:%S UTC")


def _trend_chart(history: ChangesDisplay) -> Chart | None:
    """Open findings per stored run, stacked by severity; None when there is no trend."""
    if not history.trend or not set(SEVERITIES) & set(history.trend_keys):
        return None
    column = {key: index for index, key in enumerate(history.trend_keys)}
    rows = []
    for point in history.trend:
        label = str(point[column["period"]]) if "period" in column else ""
        parts = [
            (severity, severity, _count(point[column[severity]]))
            for severity in SEVERITIES
            if severity in column
        ]
        rows.append((label, parts))
    return bar_chart(
        "trend",
        "Open findings over time",
        "Open findings of each stored run, by severity.",
        rows,
        [(severity, severity) for severity in SEVERITIES],
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def signed_services(
    lines: Sequence[PositionLine],
) -> list[tuple[str, list[PositionLine]]]:
    """The signed position's lines per service (each service's values, then its total), the
    overall total left out: one table each on the first page."""
    return [
        (str(service), list(group))
        for service, group in groupby(
            (line for line in lines if not line.is_overall), key=lambda line: line.service_name
        )
    ]


def build_context(run: ReportInput, rows_per_rule: int = ROWS_PER_RULE) -> dict[str, Any]:
    """Everything the template reads, as plain data (the template computes nothing)."""
    meta = run.report.run
    coverage = meta.coverage
    catalogue = rule_catalogue()
    figures = headline_figures(run)
    by_rule = run.report.summary.by_rule
    groups = rule_groups(run, catalogue, rows_per_rule)
    findings = run.report.findings
    exceptions = run.report.exceptions
    failures = run.inventory.coverage.failures
    datacenters = datacenter_coverage(run)
    history = changes_display(run)
    new_findings = arrivals(run)
    return {
        "period": meta.period,
        "organisation": meta.organisation,
        "period_status": None if run.figures.period is None else run.figures.period.text,
        "period_sentence": None if run.figures.period is None else run.figures.period.sentence,
        "taken_at": _timestamp(meta.taken_at, meta.taken),
        "endpoint": meta.endpoint,
        "tool_version": meta.tool_version,
        "snapshot_sha256": run.snapshot_sha256,
        "coverage": coverage,
        "complete": coverage.complete,
        "coverage_gaps": _coverage_gaps(coverage),
        "failures": [describe_failure(f) for f in failures[:ROWS_PER_TABLE]],
        "failures_more": max(len(failures) - ROWS_PER_TABLE, 0),
        "datacenters": datacenters[:ROWS_PER_TABLE],
        "datacenters_more": max(len(datacenters) - ROWS_PER_TABLE, 0),
        "tiles": _tiles(run, figures),
        "summary_lines": executive_summary(run, history),
        "figures": figures,
        "position": run.figures.position,
        "billing_rule": BILLING_RULE,
        "signed": run.figures.signed,
        "signed_services": signed_services(run.figures.signed),
        "ran_by_service": list(run.figures.ran_by_service),
        "ran_total": run.figures.ran_total,
        "costs": run.figures.position.costs,
        "price_unit": next((cost.unit for cost in run.figures.position.costs), None),
        "total_label": total_label,
        "sign_off_roles": SIGN_OFF_ROLES,
        "findings_reviewed": findings_reviewed(run),
        "open_total": run.figures.open,
        "charts": _charts(run, catalogue),
        "groups": groups,
        "rows_per_rule": rows_per_rule,
        "finding_total": len(findings),
        "has_history": has_history(findings),
        "has_reviews": any(
            r.review_status or r.review_owner or r.review_comment for g in groups for r in g.rows
        ),
        "severities": SEVERITIES,
        "statuses": STATUSES,
        "exceptions": exceptions[:ROWS_PER_TABLE],
        "exceptions_more": max(len(exceptions) - ROWS_PER_TABLE, 0),
        "catalogue": list(catalogue),
        "by_rule": by_rule,
        "history": history,
        "arrivals": [_finding_row(f, run.history) for f in new_findings[:ROWS_PER_TABLE]],
        "arrivals_total": len(new_findings),
        "arrivals_more": max(len(new_findings) - ROWS_PER_TABLE, 0),
        "arrivals_open_up_to": ARRIVALS_SHOWN_OPEN,
        "gone": history.gone[:ROWS_PER_TABLE],
        "gone_more": max(len(history.gone) - ROWS_PER_TABLE, 0),
        "events": history.events[:ROWS_PER_TABLE],
        "events_more": max(len(history.events) - ROWS_PER_TABLE, 0),
        "trend_chart": _trend_chart(history),
        "exposure": exposure_display(run),
        "remediation": remediation_display(run),
        "reconciliation": reconciliation_display(run),
    }
