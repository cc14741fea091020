"""A finding as every table lists it (findings.csv, the workbook, the HTML): its own fields,
its first sighting, and counts of findings in a stable order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from audit.model.findings import Finding
from audit.support.timestamps import parse_utc, utc_day


def parse_date(value: Any) -> date | None:
    """An ISO date (or the UTC day of a timestamp), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        stamp = parse_utc(value)
        return None if stamp is None else utc_day(stamp)


def finding_values(finding: Finding) -> tuple[Any, ...]:
    """The finding's own fields as both tables list them first (rule_id ... message)."""
    return (
        finding.rule_id,
        finding.severity.value,
        finding.status.value,
        finding.service_name,
        finding.datacenter_id,
        finding.vm_id,
        finding.vm_name,
        finding.moref,
        finding.power_state,
        finding.guest_os_family,
        finding.license,
        finding.message,
    )


def has_history(findings: Sequence[Finding]) -> bool:
    """True when the history stage has marked the findings (first seen, change)."""
    return any(f.first_seen is not None or f.change is not None for f in findings)


def count_sorted(counts: Mapping[str, int], order: tuple[str, ...] = ()) -> list[tuple[str, int]]:
    """Counts in a stable order: the known order first, then the rest by name."""
    known = [(key, counts[key]) for key in order if key in counts]
    rest = sorted((key, value) for key, value in counts.items() if key not in order)
    return known + rest


def first_seen(finding: Finding) -> tuple[str | None, date | None]:
    """The history stage's first sighting of a finding: its period and snapshot date."""
    if finding.first_seen is None:
        return None, None
    return finding.first_seen.period, parse_date(finding.first_seen.date)
