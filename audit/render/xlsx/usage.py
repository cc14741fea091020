"""The Licence usage sheet: the licence tallies with their totals, and the Windows guests by
licence situation."""

from __future__ import annotations

from typing import Any

from openpyxl import Workbook

from audit.model.position import NO_LICENCE, LicenceUsage, UsageTotal
from audit.render.base import ReportInput
from audit.render.xlsx.cells import (
    WINDOWS_HEADERS,
    Column,
    Table,
    total_row,
)

_USAGE_COLUMNS: tuple[Column, ...] = (
    Column("Service", 28),
    Column("Datacenter", 12),
    Column("Licence", 34, wrap=True),
    Column("VMs", 10),
    Column("Powered on", 12),
    Column("Powered off", 12),
    Column("vCPUs", 10),
    Column("vCPUs on", 12),
    Column("vCPUs off", 12),
)


def write_sheet(workbook: Workbook, run: ReportInput) -> None:
    """VMs and vCPUs per licence value (a filterable table with its total), then per licence
    over every service, then Windows guests by licence situation, each with totals."""
    figures = run.figures
    table = Table(workbook, "Licence usage", _USAGE_COLUMNS)
    for row in figures.usage:
        table.row(_usage_row(row.service_name, row.datacenter_id, row.license, row))
    table.finish()
    totals = figures.usage_totals
    grand = _usage_row("Total", None, "all licences", totals.overall)
    total_row(table, grand)
    table.section("By licence, all services")
    table.header([c.header for c in _USAGE_COLUMNS])
    for total in totals.by_licence:
        table.append(_usage_row("all services", None, total.license, total))
    total_row(table, grand)
    table.section("Windows guests by licence situation (deleted VMs excluded)")
    table.header(["Service", "Datacenter", *WINDOWS_HEADERS])
    for usage in figures.windows:
        table.append([usage.service_name, usage.datacenter_id, *usage.counts()])
    total_row(table, ["Total", None, *figures.windows_total.counts()])


def _usage_row(
    service: Any, dc: Any, licence: str | None, counts: LicenceUsage | UsageTotal
) -> list[Any]:
    """Service, datacenter, licence (no licence named NO_LICENCE), VMs on and off, vCPUs on
    and off."""
    return [
        service,
        dc,
        licence or NO_LICENCE,
        counts.vms,
        counts.vms_powered_on,
        counts.vms_powered_off,
        counts.vcpus,
        counts.vcpus_powered_on,
        counts.vcpus_powered_off,
    ]
