"""The Changes sheet: new and reopened findings, findings gone, licence events."""

from __future__ import annotations

from openpyxl import Workbook

from audit.render.base import ReportInput
from audit.render.catalogue import RuleCatalogue
from audit.render.changes import ChangesDisplay, arrivals
from audit.render.findings import first_seen
from audit.render.xlsx.cells import (
    Column,
    Table,
)

_CHANGE_COLUMNS: tuple[Column, ...] = (
    Column("Change", 18),
    Column("Severity", 10),
    Column("Rule", 22),
    Column("Service", 24),
    Column("Datacenter", 11),
    Column("VM id", 9),
    Column("VM name", 30, wrap=True),
    Column("First seen", 11),
    Column("Before", 30),
    Column("After", 30),
    Column("Details", 60, wrap=True),
)


def write_sheet(
    workbook: Workbook, run: ReportInput, history: ChangesDisplay, catalogue: RuleCatalogue
) -> None:
    """Everything that changed since the previous run, one filterable table: new and reopened
    findings, findings gone (fixed, VM removed, or unverified), then licence events."""
    table = Table(workbook, "Changes", _CHANGE_COLUMNS)
    for finding in arrivals(run):
        table.row(
            [
                None if finding.change is None else finding.change.value,
                finding.severity.value,
                finding.rule_id,
                finding.service_name,
                finding.datacenter_id,
                finding.vm_id,
                finding.vm_name,
                first_seen(finding)[0],
                None,
                None,
                finding.message,
            ]
        )
    for gone in history.gone:
        record = gone.record
        rule = catalogue.rule(record.rule_id, record.severity)
        table.row(
            [
                f"gone: {gone.outcome.replace('_', ' ')}",
                record.severity,
                record.rule_id,
                record.service_name,
                record.datacenter_id,
                record.vm_id,
                record.vm_name,
                gone.first_seen.period,
                None,
                None,
                f"{rule.title}; last seen {gone.last_seen.period or 'in the previous run'}",
            ]
        )
    for event in history.events:
        now = ", ".join(
            f"{label} {value or '(none)'}"
            for label, value in (("guest OS", event.guest_os_family), ("licence", event.license))
        )
        table.row(
            [
                event.event.value.replace("_", " "),
                None,
                None,
                event.service_name,
                event.datacenter_id,
                event.vm_id,
                event.vm_name,
                None,
                event.before,
                event.after,
                f"now: {now}",
            ]
        )
    table.finish()
    table.colour_severity(2)
