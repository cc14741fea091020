"""findings.csv: one row per finding, safe to open in Excel."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from audit.fsutil import atomic_write_text
from audit.render.base import RunData
from audit.render.safe_text import neutralise

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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return str(value)
    return neutralise(str(value))


def _first_seen(value: Any) -> Any:
    return value.get("period") if isinstance(value, dict) else value


class FindingsCsv:
    """Every field of findings.json's findings, flattened; exception columns prefixed."""

    filename = "findings.csv"

    def render(self, run: RunData, path: Path) -> None:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        header = [
            *FINDING_COLUMNS,
            *HISTORY_COLUMNS,
            *(f"exception_{column}" for column in EXCEPTION_COLUMNS),
        ]
        writer.writerow(header)
        for finding in run.findings["findings"]:
            exception = finding.get("exception") or {}
            writer.writerow(
                [
                    *(_cell(finding.get(column)) for column in FINDING_COLUMNS),
                    _cell(_first_seen(finding.get("first_seen"))),
                    _cell(finding.get("change")),
                    *(_cell(exception.get(column)) for column in EXCEPTION_COLUMNS),
                ]
            )
        # A BOM lets Excel detect UTF-8 (unicode VM names) on double-click.
        atomic_write_text(path, "\ufeff" + buffer.getvalue())
