"""The Findings sheet: every finding, worst first, with three columns for reviewers."""

from __future__ import annotations

from typing import Any

from openpyxl import Workbook

from audit.model.exceptions import ExceptionRow
from audit.model.workbook import (
    DATACENTER,
    FINDINGS_SHEET,
    RULE,
    SERVICE,
    VM_ID,
)
from audit.render.base import ReportInput
from audit.render.catalogue import RuleCatalogue
from audit.render.findings import first_seen, has_history
from audit.render.xlsx.cells import (
    REVIEW_COLUMNS,
    Column,
    Table,
    review_validation,
)

# Narrow, wrapped columns: the sheet prints one page wide and no value is cut (a licence value
# such as "windows 2025 Datacenter SQL2022 Enterprise" wraps whole in its column).
_FINDING_COLUMNS: tuple[Column, ...] = (
    Column("VM name", 20, wrap=True),
    Column(VM_ID, 8),
    Column(RULE, 15, wrap=True),
    Column("Severity", 9),
    Column("Status", 9),
    Column(SERVICE, 14, wrap=True),
    Column(DATACENTER, 11),
    Column("Folder", 12, wrap=True),
    Column("Cluster", 12, wrap=True),
    Column("moRef", 10, wrap=True),
    Column("Power state", 11, wrap=True),
    Column("Guest OS (configured)", 17, wrap=True),
    Column("Licence", 18, wrap=True),
    Column("Message", 44, wrap=True),
    Column("Rule title", 22, wrap=True),
    Column("Remediation", 32, wrap=True),
    Column("Exception kind", 10, wrap=True),
    Column("Exception rule", 12, wrap=True),
    Column("Exception reason", 18, wrap=True),
    Column("Approved by", 12, wrap=True),
    Column("Expires", 11),
    Column("Reference", 12, wrap=True),
)
# The VM's name and id stay in view (frozen) and head every printed page.
_FINDING_FROZEN = "C2"
_FINDING_TITLE_COLUMNS = "A:B"
_HISTORY_COLUMNS: tuple[Column, ...] = (
    Column("First seen", 9),
    Column("First seen on", 11),
    Column("Change", 10),
)


def write_sheet(workbook: Workbook, run: ReportInput, catalogue: RuleCatalogue) -> None:
    """Every finding, worst first, with its rule's title and remediation, and three columns
    for reviewers.

    The sheet is not protected: Excel refuses to sort a protected sheet when the range holds
    locked cells (even with sorting allowed), and unlocking every cell would protect nothing.
    The review columns are marked and validated instead, and `import-review` refuses a row
    whose Service, Datacenter, VM id or Rule no longer names a finding of the run.
    """
    findings = run.report.findings
    with_history = has_history(findings)
    columns = _FINDING_COLUMNS + (_HISTORY_COLUMNS if with_history else ()) + REVIEW_COLUMNS
    table = Table(
        workbook,
        FINDINGS_SHEET,
        columns,
        frozen=_FINDING_FROZEN,
        title_columns=_FINDING_TITLE_COLUMNS,
    )
    for finding in sorted(findings, key=catalogue.finding_order()):
        rule = catalogue.rule(finding.rule_id, finding.severity.value)
        values: list[Any] = [
            finding.vm_name,
            finding.vm_id,
            finding.rule_id,
            finding.severity.value,
            finding.status.value,
            finding.service_name,
            finding.datacenter_id,
            finding.folder,
            finding.cluster,
            finding.moref,
            finding.power_state,
            finding.guest_os_family,
            finding.license,
            finding.message,
            rule.title,
            rule.remediation or None,
            *_exception_values(finding.exception),
        ]
        if with_history:
            values += [
                *first_seen(finding),
                None if finding.change is None else finding.change.value,
            ]
        values += run.history.review_cells(finding.fingerprint)
        table.row(values)
    table.finish()
    table.colour_severity(4)
    review_validation(table, len(columns) - len(REVIEW_COLUMNS) + 1)


def _exception_values(row: ExceptionRow | None) -> list[Any]:
    """Kind, rule, reason, approved by, expires, reference; Nones without an exception."""
    if row is None:
        return [None] * 6
    return [
        row.kind.value,
        row.rule_id or None,
        row.reason or None,
        row.approved_by or None,
        row.expires,
        row.reference or None,
    ]
