"""findings.csv: one row per finding, safe to open in Excel (see audit/render/safe_text.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from audit.model.exceptions import ExceptionRow
from audit.model.findings import Finding
from audit.render.base import ReportInput
from audit.render.findings import finding_values, first_seen
from audit.render.safe_text import safe_text
from audit.support.fsutil import atomic_write_text

FINDING_COLUMNS = (
    "rule_id",
    "severity",
    "status",
    "service_name",
    "datacenter_id",
    "vm_id",
    "vm_name",
    "moref",
    "power_state",
    "guest_os_family",
    "license",
    "message",
)
HISTORY_COLUMNS = ("first_seen", "change")
EXCEPTION_COLUMNS = ("kind", "reason", "approved_by", "expires", "reference")
# Last, after the columns above: scripts that read the file by position rely on their order.
LATER_COLUMNS = ("first_seen_date", "exception_rule_id", "folder", "cluster")


def _exception_cells(row: ExceptionRow | None) -> list[str]:
    """EXCEPTION_COLUMNS as the register writes them; empty without an exception."""
    if row is None:
        return [""] * len(EXCEPTION_COLUMNS)
    register = row.to_register_dict()
    return [_cell(register[column]) for column in EXCEPTION_COLUMNS]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return str(value)
    return safe_text(str(value))


# The header row, in the order above.
HEADER = (
    *FINDING_COLUMNS,
    *HISTORY_COLUMNS,
    *(f"exception_{column}" for column in EXCEPTION_COLUMNS),
    *LATER_COLUMNS,
)


def finding_row(finding: Finding) -> list[str]:
    """One finding's cells under HEADER, formula-neutralised (the roll-up's CSV uses it too)."""
    period, seen = first_seen(finding)
    return [
        *(_cell(value) for value in finding_values(finding)),
        _cell(period),
        _cell(finding.change),
        *_exception_cells(finding.exception),
        _cell(seen and seen.isoformat()),
        _cell(None if finding.exception is None else finding.exception.rule_id),
        _cell(finding.folder),
        _cell(finding.cluster),
    ]


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """CRLF rows after a BOM, which lets Excel detect UTF-8 (unicode VM names) on double-click."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, "\ufeff" + buffer.getvalue())


class FindingsCsv:
    """Every field of findings.json's findings, flattened; exception columns prefixed.

    first_seen's period and date are two columns, empty before the history has run.
    """

    filename = "findings.csv"

    def render(self, run: ReportInput, path: Path) -> None:
        write_csv(path, HEADER, (finding_row(finding) for finding in run.report.findings))
