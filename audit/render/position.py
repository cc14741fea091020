"""The licence position's totals as both reports label them."""

from __future__ import annotations

from audit.model.position import LicenceTotal


def total_label(total: LicenceTotal) -> tuple[str, str]:
    """(service, licence) cells of a totals row: 'all services' / 'all billable' for Nones."""
    return (
        total.service_name or "all services",
        total.license or "all billable licences",
    )
