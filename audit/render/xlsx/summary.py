"""The Summary sheet: the position an auditor signs, the executive summary, the headline
figures, the run, the counts, the changes since the previous run and the trend, then the
sign-off block."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference

from audit.model.exposure import BILLING_RULE
from audit.model.findings import SEVERITIES, STATUSES
from audit.render.base import ReportInput
from audit.render.catalogue import RuleCatalogue
from audit.render.changes import ChangesDisplay, open_delta
from audit.render.findings import count_sorted
from audit.render.style import SEVERITY_COLOURS
from audit.render.summary import (
    SIGN_OFF_ROLES,
    executive_summary,
    findings_reviewed,
    headline_figures,
)
from audit.render.xlsx.cells import (
    DATE_FORMAT,
    INDENT,
    LABEL_FONT,
    POSITION_APPENDIX,
    REVIEW_FILL,
    TONE_FONT,
    TOP,
    TOTAL_FILL,
    UNLOCKED,
    WINDOWS_HEADERS,
    WRAP,
    WRAP_WIDE,
    Sheet,
    coverage_pair,
    line_count,
    naive,
    signed,
)

# The Summary's first column: labels, the signed position's lines and its notes.
_SUMMARY_LABEL_WIDTH = 44


def write_sheet(
    workbook: Workbook,
    run: ReportInput,
    catalogue: RuleCatalogue,
    history: ChangesDisplay,
) -> None:
    """The run's identity (period, time, endpoint, digest), its coverage and the counts."""
    meta = run.report.run
    summary = run.report.summary
    coverage = meta.coverage
    complete = coverage.complete
    # Narrow value columns so the count tables read as tables; long values overflow right.
    sheet = Sheet(workbook, "Summary", [_SUMMARY_LABEL_WIDTH, 20, 14, 16, 70, 14, 14])
    sheet.ws.sheet_view.showGridLines = False
    period_status = run.figures.period
    sheet.title(
        "Windows licence compliance audit",
        "OVHcloud Hosted Private Cloud, "
        + ("" if meta.organisation is None else f"{meta.organisation}, ")
        + f"period {meta.period}"
        + ("" if period_status is None else f" ({period_status.text})"),
    )
    signed_position_block(sheet, run)
    sheet.section("Executive summary", new_page=True)
    for line in executive_summary(run, history):
        style: dict[str, Any] = {}
        if line.tone in TONE_FONT:
            style["font"] = TONE_FONT[line.tone]
        sheet.pair(line.label, line.text, **style)
    sheet.section("Headline figures")
    if period_status is not None:
        sheet.pair("Period", period_status.sentence, font=TONE_FONT["warn"])
    figures = headline_figures(run)
    previous = run.history.previous
    sheet.header(
        [
            "Figure",
            "Value",
            "Of",
            f"Change since {previous.period}" if previous else "Change",
            "Definition",
        ]
    )
    for figure in figures:
        sheet.append_cells(
            [
                sheet.cell(figure.label, font=LABEL_FONT, alignment=WRAP),
                sheet.cell(figure.value, alignment=TOP),
                sheet.cell(figure.of, alignment=TOP),
                signed(sheet, figure.change, alignment=TOP),
                sheet.cell(figure.definition, alignment=WRAP_WIDE),
            ],
            max(line_count(figure.definition, 60), line_count(figure.label, 28)),
        )
    sheet.section("Run")
    if meta.organisation is not None:
        sheet.pair("Organisation", meta.organisation)
    sheet.pair(
        "Period",
        str(meta.period) + ("" if period_status is None else f" ({period_status.text})"),
    )
    sheet.pair("Snapshot taken (UTC)", naive(meta.taken) or meta.taken_at)
    sheet.pair("API endpoint", meta.endpoint)
    sheet.pair("Tool version", meta.tool_version)
    sheet.pair("Snapshot sha256", run.snapshot_sha256)
    failures = len(coverage.failures)
    coverage_pair(sheet, complete, failures, span=5)
    for label, key in (
        ("Services listed", "services_listed"),
        ("Services read", "services_read"),
        ("Datacenters listed", "datacenters_listed"),
        ("Datacenters read", "datacenters_read"),
        ("VMs listed", "vms_listed"),
        ("VMs fetched", "vms_fetched"),
    ):
        sheet.pair(label, getattr(coverage, key))

    counts = run.figures
    sheet.section("Findings by severity")
    delta = open_delta(run)
    extra = [] if delta is None else [f"Open in {delta.period}", "Change in open"]
    sheet.header(["Severity", "Findings", "Open", *extra])
    for severity_count in counts.severities:
        severity = severity_count.severity
        values = [severity, severity_count.findings, severity_count.open]
        if delta is not None:
            values += [delta.previous[severity], delta.change[severity]]
        cells = [sheet.value(v) for v in values]
        if delta is not None:
            cells[-1] = signed(sheet, delta.change[severity])
        sheet.append_cells(cells)
    total = ["total", counts.findings, counts.open]
    if delta is not None:
        total += [delta.previous_total, delta.change_total]
    cells = [sheet.cell(v, font=LABEL_FONT) for v in total]
    if delta is not None:
        cells[-1] = signed(sheet, delta.change_total, font=LABEL_FONT)
    sheet.append_cells(cells)

    sheet.section("Findings by status")
    sheet.header(["Status", "Findings"])
    for status, count in count_sorted(summary.by_status, STATUSES):
        sheet.append([status, count])

    sheet.section("Findings by rule", new_page=True)
    sheet.header(["Rule", "Severity", "Findings", "Title"])
    by_rule = summary.by_rule
    for rule_id, count in sorted(by_rule.items(), key=lambda item: catalogue.order(item[0])):
        rule = catalogue.rule(rule_id, "")
        cells = [sheet.value(v) for v in (rule_id, rule.severity, count)]
        sheet.append_cells([*cells, sheet.cell(rule.title, alignment=INDENT)])

    sheet.section("Findings by service")
    sheet.header(["Service", "Findings"])
    for service, count in count_sorted(summary.by_service):
        sheet.append([service, count])

    sheet.section("Windows guests at the snapshot, by service")
    sheet.header(["Service", *WINDOWS_HEADERS])
    for usage in counts.windows_by_service:
        sheet.append([usage.service_name, *usage.counts()])
    _history_sections(sheet, history)
    _sign_off(sheet, run)


def signed_position_block(sheet: Sheet, run: ReportInput) -> None:
    """The position an auditor signs, at the top of the Summary: per service and licence value
    what OVHcloud bills for the period with totals, then the Windows Server guests that ran
    (audit/evaluate/signed.py computes both; this only lays them out)."""
    figures = run.figures
    sheet.section(f"Licence position {run.report.run.period}: what OVHcloud bills")
    sheet.append_cells(
        [sheet.cell(BILLING_RULE, alignment=WRAP)], line_count(BILLING_RULE, _SUMMARY_LABEL_WIDTH)
    )
    sheet.header(["Service / licence", *_SIGNED_HEADERS])
    for line in figures.signed:
        numbers = (
            line.billed_vms,
            line.billed_vcpus,
            line.peak_vms,
            line.vms_at_close,
            line.vmlicensed_at_close,
        )
        if line.is_overall:
            label, style = "Total, every service", {"font": LABEL_FONT, "fill": TOTAL_FILL}
        elif line.is_total:
            label, style = f"Total, {line.service_name}", {"font": LABEL_FONT}
        else:
            label, style = f"{line.service_name}: {line.license}", {}
        sheet.append_cells([sheet.cell(value, **style) for value in (label, *numbers)])
    for cost in figures.position.costs:
        sheet.append_cells(
            [
                sheet.cell(f"Cost: {cost.key.replace('_', ' ')}", font=LABEL_FONT),
                sheet.cell(float(cost.amount), number_format="#,##0.00"),
                sheet.cell(cost.currency),
                sheet.cell(cost.unit),
            ]
        )
    sheet.section("Windows Server guests that ran this period")
    sheet.header(["Per service", *_RAN_HEADERS])
    for ran in (*figures.ran_by_service, figures.ran_total):
        total = ran.service_name is None
        style = {"font": LABEL_FONT, "fill": TOTAL_FILL} if total else {}
        values = (
            "Total, every service" if total else ran.service_name,
            ran.ran,
            ran.billed,
            ran.byol,
            ran.unbilled,
            ran.unbilled_vm_days,
            ran.other,
        )
        sheet.append_cells([sheet.cell(value, **style) for value in values])
    sheet.append_cells(
        [sheet.cell(SIGNED_COLUMNS_NOTE, alignment=WRAP)],
        line_count(SIGNED_COLUMNS_NOTE, _SUMMARY_LABEL_WIDTH),
    )


_SIGNED_HEADERS = ("Billed VMs", "Billed vCPUs", "Peak", "At close", "vmLicensed")
_RAN_HEADERS = ("Ran", "Billed", "BYOL", "Ran unbilled", "VM-days unbilled", "Other")
SIGNED_COLUMNS_NOTE = (
    "Billed VMs: the VMs that carried the value on an observed day they were powered on; "
    "billed vCPUs: the sum of their most vCPUs on such a day. Peak: the most VMs carrying it "
    "on one observed day, per datacenter, summed. At close: VMs carrying it at the snapshot. "
    "vmLicensed: the vmLicensed entries naming it at the snapshot, deleted VMs included "
    "(empty: not read). Ran unbilled: the open WIN-UNLICENSED findings. Per datacenter: "
    f"sheet {POSITION_APPENDIX}."
)


def _sign_off(sheet: Sheet, run: ReportInput) -> None:
    """Who prepared, reviewed and approved the audit, and when: cells for people to fill."""
    sheet.section("Sign-off", new_page=True)
    reviewed = findings_reviewed(run)
    sheet.pair(
        "Findings reviewed",
        f"{reviewed:,} of {len(run.report.findings):,} carry a review status",
    )
    sheet.header(["Role", "Name", "Date", "Signature / comment"])
    for role in SIGN_OFF_ROLES:
        blank = [sheet.cell(None, fill=REVIEW_FILL, protection=UNLOCKED) for _ in range(3)]
        blank[1].number_format = DATE_FORMAT
        sheet.append_cells([sheet.cell(role, font=LABEL_FONT), *blank], lines=2)


def _history_sections(sheet: Sheet, history: ChangesDisplay) -> None:
    """What the history stage adds, when it has run: changes since last month and the trend."""
    if history.present:
        sheet.section(f"Since the previous run ({history.previous_period or 'none'})", True)
        sheet.header(["What", "Count"])
        for change, count in history.changes:
            sheet.append([f"{change} findings", count])
        for outcome, count in history.gone_counts:
            sheet.append([f"gone: {outcome.replace('_', ' ')}", count])
        for event, count in history.event_counts:
            sheet.append([event.replace("_", " "), count])
    if history.trend:
        sheet.section("Trend of open findings")
        sheet.header(history.trend_keys)
        header_row = sheet.rows
        for row in history.trend:
            sheet.append(row)
        _trend_chart(sheet, history.trend_keys, header_row)


def _trend_chart(sheet: Sheet, keys: Sequence[str], header_row: int) -> None:
    """A native stacked column chart over the trend table: open findings by severity per run."""
    if "period" not in keys or not set(SEVERITIES) & set(keys):
        return
    chart = BarChart()
    chart.type = "col"
    chart.grouping = "stacked"
    chart.overlap = 100
    chart.title = "Open findings by severity, last runs"
    chart.y_axis.title = "Open findings"
    chart.height, chart.width = 7.5, 16
    last = sheet.rows
    for severity in SEVERITIES:
        if severity not in keys:
            continue
        column = keys.index(severity) + 1
        chart.add_data(
            Reference(sheet.ws, min_col=column, min_row=header_row, max_row=last),
            titles_from_data=True,
        )
        chart.series[-1].graphicalProperties.solidFill = SEVERITY_COLOURS[severity].strong[1:]
    period = keys.index("period") + 1
    chart.set_categories(Reference(sheet.ws, min_col=period, min_row=header_row + 1, max_row=last))
    # Below the table rather than beside it: the sheet still prints one narrow page wide.
    sheet.ws.add_chart(chart, f"A{last + 2}")
