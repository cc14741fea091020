"""The Rules sheet: the catalogue with each rule's counts, rationale and remediation."""

from __future__ import annotations

from openpyxl import Workbook

from audit.render.base import ReportInput
from audit.render.catalogue import RuleCatalogue
from audit.render.xlsx.cells import (
    Column,
    Table,
)

_RULE_COLUMNS: tuple[Column, ...] = (
    Column("Rule", 22),
    Column("Title", 40, wrap=True),
    Column("Severity", 10),
    Column("Findings", 10),
    Column("Open", 8),
    Column("Rationale", 70, wrap=True),
    Column("Remediation", 60, wrap=True),
)


def write_sheet(workbook: Workbook, run: ReportInput, catalogue: RuleCatalogue) -> None:
    by_rule = run.report.summary.by_rule
    open_counts = run.figures.open_by_rule
    table = Table(workbook, "Rules", _RULE_COLUMNS)
    for rule in catalogue:
        table.row(
            [
                rule.id,
                rule.title,
                rule.severity,
                by_rule.get(rule.id, 0),
                open_counts[rule.id],
                rule.rationale,
                rule.remediation,
            ]
        )
    table.finish()
    table.colour_severity(3)
