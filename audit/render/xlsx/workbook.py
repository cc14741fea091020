"""report.xlsx: the workbook auditors filter, annotate and keep as evidence.

Streamed with openpyxl's write-only mode (audit/render/xlsx/cells.py) so a 100,000-VM fleet
renders in bounded memory, one module per sheet. Same inputs, same bytes: document dates come
from the snapshot time and the zip entries carry that time too, so a rebuilt report can be
compared with the one that was sent.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.packaging.custom import StringProperty
from openpyxl.writer.excel import ExcelWriter

from audit.model.workbook import PERIOD_PROPERTY
from audit.render.base import ReportInput
from audit.render.catalogue import rule_catalogue
from audit.render.changes import changes_display
from audit.render.reconciliation import reconciliation_display
from audit.render.xlsx import (
    changes,
    coverage,
    exceptions,
    exposure,
    exposure_vm,
    findings,
    inventory,
    position,
    reconciliation,
    remediation,
    rules,
    summary,
    unsettled,
    usage,
)
from audit.render.xlsx.cells import (
    clean_text,
    naive,
)


class XlsxReport:
    """The Renderer for report.xlsx."""

    filename = "report.xlsx"

    def render(self, run: ReportInput, path: Path) -> None:
        """Write the workbook: eight sheets, plus Exposure by VM with observations, Unsettled
        shortfalls when earlier periods left some, Reconciliation once `invoice` has run,
        Changes when there is a previous run and Remediation when some was applied."""
        workbook = Workbook(write_only=True)
        _set_properties(workbook, run)
        catalogue = rule_catalogue()
        history = changes_display(run)
        summary.write_sheet(workbook, run, catalogue, history)
        findings.write_sheet(workbook, run, catalogue)
        inventory.write_sheet(workbook, run)
        usage.write_sheet(workbook, run)
        exposure.write_sheet(workbook, run)
        exposure_vm.write_sheet(workbook, run)
        unsettled.write_sheet(workbook, run)
        reconciliation.write_sheet(workbook, reconciliation_display(run))
        exceptions.write_sheet(workbook, run)
        coverage.write_sheet(workbook, run)
        rules.write_sheet(workbook, run, catalogue)
        position.write_sheet(workbook, run.figures.position)
        if history.previous_period:
            changes.write_sheet(workbook, run, history, catalogue)
        remediation.write_sheet(workbook, run)
        save(workbook, path, _zip_time(run))


def _set_properties(workbook: Workbook, run: ReportInput) -> None:
    """Title, subject and custom properties name the period and the snapshot digest."""
    meta = run.report.run
    period = meta.period
    taken = naive(meta.taken) or datetime(1980, 1, 1)
    props = workbook.properties
    props.title = f"Windows licence compliance audit {period}"
    props.subject = (
        f"OVHcloud Hosted Private Cloud Windows SPLA licences, period {period}, "
        f"snapshot sha256 {run.snapshot_sha256}"
    )
    props.creator = f"ovh-license-audit {meta.tool_version}".strip()
    props.lastModifiedBy = props.creator
    props.keywords = f"period={period}; snapshot_sha256={run.snapshot_sha256}"
    props.category = "Licence compliance"
    props.identifier = run.snapshot_sha256
    props.created = taken
    props.modified = taken
    for name, value in (
        (PERIOD_PROPERTY, period.label),
        ("snapshot_sha256", run.snapshot_sha256),
        ("endpoint", meta.endpoint),
        ("tool_version", meta.tool_version),
    ):
        workbook.custom_doc_props.append(StringProperty(name=name, value=clean_text(value)))


def _zip_time(run: ReportInput) -> tuple[int, int, int, int, int, int]:
    """The snapshot time as a zip timestamp (zip cannot go before 1980)."""
    taken = naive(run.report.run.taken) or datetime(1980, 1, 1)
    taken = max(taken, datetime(1980, 1, 1))
    return (taken.year, taken.month, taken.day, taken.hour, taken.minute, taken.second // 2 * 2)


class _StampedZip(zipfile.ZipFile):
    """A zip whose every entry carries one fixed time, so equal content gives equal bytes.

    openpyxl stamps entries with the current time (writestr) or a temp file's mtime (write).
    """

    def __init__(self, path: Path, stamp: tuple[int, int, int, int, int, int]) -> None:
        super().__init__(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self._stamp = stamp

    def _entry(self, name: str, size: int = 0) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        info.file_size = size
        return info

    def writestr(
        self,
        zinfo_or_arcname: str | zipfile.ZipInfo,
        data: Any,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        name = (
            zinfo_or_arcname.filename
            if isinstance(zinfo_or_arcname, zipfile.ZipInfo)
            else zinfo_or_arcname
        )
        super().writestr(self._entry(name), data)

    def write(
        self,
        filename: str | os.PathLike[str],
        arcname: str | os.PathLike[str] | None = None,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        name = os.fspath(arcname if arcname is not None else filename)
        info = self._entry(name, Path(filename).stat().st_size)
        with Path(filename).open("rb") as source, self.open(info, "w") as target:
            shutil.copyfileobj(source, target, 1 << 20)


def save(workbook: Workbook, path: Path, stamp: tuple[int, int, int, int, int, int]) -> None:
    """Save like openpyxl does, minus its clock: properties and zip times stay as set."""
    archive = _StampedZip(path, stamp)
    try:
        ExcelWriter(workbook, archive).save()
    finally:
        archive.close()
