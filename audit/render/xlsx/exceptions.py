"""The Exceptions sheet: every register row with its state on the evaluation day."""

from __future__ import annotations

from typing import Any

from openpyxl import Workbook

from audit.render.base import ReportInput
from audit.render.xlsx.cells import (
    Column,
    Table,
)

_EXCEPTION_COLUMNS: tuple[Column, ...] = (
    Column("Register line", 9),
    Column("Service", 24),
    Column("Datacenter", 11),
    Column("VM id", 9),
    Column("Rule", 18),
    Column("Kind", 9),
    Column("Reason", 40, wrap=True),
    Column("Approved by", 20),
    Column("Expires", 11),
    Column("Reference", 18),
    Column("State", 10),
    Column("Days to expiry", 10),
    Column("Findings matched", 10),
)


def write_sheet(workbook: Workbook, run: ReportInput) -> None:
    table = Table(workbook, "Exceptions", _EXCEPTION_COLUMNS)
    for state in run.report.exceptions:
        row = state.row
        values: list[Any] = [
            row.line,
            row.service_name or None,
            row.datacenter_id,
            row.vm_id,
            row.rule_id or None,
            row.kind.value,
            row.reason or None,
            row.approved_by or None,
            row.expires,
            row.reference or None,
            state.state.value,
            state.days_to_expiry,
            state.findings_matched,
        ]
        table.row(values)
    table.finish()
