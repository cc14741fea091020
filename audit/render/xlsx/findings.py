"""The Findings sheet: every finding, worst first, with three columns for reviewers."""

from __future__ import annotations

from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from audit.model.exceptions import ExceptionRow
from audit.model.workbook import (
    COMMENT,
    DATACENTER,
    FINDINGS_SHEET,
    OWNER,
    REVIEW_STATUS,
    REVIEW_STATUSES,
    RULE,
    SERVICE,
    VM_ID,
)
from audit.render.base import ReportInput
from audit.render.catalogue import RuleCatalogue
from audit.render.findings import first_seen, has_history
from audit.render.xlsx.cells import (
    Column,
    Table,
)

_FINDING_COLUMNS: tuple[Column, ...] = (
    Column("VM name", 28),
    Column(VM_ID, 9),
    Column(RULE, 22),
    Column("Severity", 10),
    Column("Status", 9),
    Column(SERVICE, 20),
    Column(DATACENTER, 11),
    Column("Folder", 16),
    Column("Cluster", 16),
    Column("moRef", 11),
    Column("Power state", 12),
    Column("Guest OS (configured)", 26),
    Column("Licence", 28),
    Column("Message", 60, wrap=True),
    Column("Rule title", 30, wrap=True),
    Column("Remediation", 45, wrap=True),
    Column("Exception kind", 10),
    Column("Exception rule", 14),
    Column("Exception reason", 30),
    Column("Approved by", 18),
    Column("Expires", 11),
    Column("Reference", 16),
)
# The VM's name and id stay in view (frozen) and head every printed page.
_FINDING_FROZEN = "C2"
_FINDING_TITLE_COLUMNS = "A:B"
_HISTORY_COLUMNS: tuple[Column, ...] = (
    Column("First seen", 10),
    Column("First seen on", 12),
    Column("Change", 11),
)
_REVIEW_COLUMNS: tuple[Column, ...] = (
    Column(REVIEW_STATUS, 15, editable=True),
    Column(OWNER, 18, editable=True),
    Column(COMMENT, 40, editable=True),
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
    columns = _FINDING_COLUMNS + (_HISTORY_COLUMNS if with_history else ()) + _REVIEW_COLUMNS
    table = Table(
        workbook,
        FINDINGS_SHEET,
        columns,
        fit_width=False,
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
    review = get_column_letter(len(columns) - len(_REVIEW_COLUMNS) + 1)
    validation = DataValidation(
        type="list",
        formula1='"' + ",".join(REVIEW_STATUSES) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle=REVIEW_STATUS,
        error="Choose one of: " + ", ".join(REVIEW_STATUSES),
        showInputMessage=True,
        promptTitle=REVIEW_STATUS,
        prompt=", ".join(REVIEW_STATUSES),
    )
    validation.add(f"{review}2:{review}{max(table.rows, 2)}")
    table.ws.data_validations.append(validation)


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
