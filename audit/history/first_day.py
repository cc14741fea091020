""" "First seen on" as the first observed day a finding's condition held, not the run's date.

A run taken on 2 December for November sees a Windows server unlicensed since 1 November: its
finding is new in this run, but the period's observations say since when it ran unlicensed,
so that day is its first sighting (DESIGN.md "Evidence that rebuilds from the folder alone").
"""

from __future__ import annotations

from dataclasses import replace

from audit.model.exposure import Exposure
from audit.model.findings import Finding
from audit.model.history import Sighting
from audit.model.identity import VmKey

#: Rules whose condition is a day the VM ran as a Windows server guest without a licence.
UNLICENSED_RULES = frozenset({"WIN-UNLICENSED"})


def first_observed(
    findings: tuple[Finding, ...], current: Sighting, exposure: Exposure | None
) -> tuple[Finding, ...]:
    """The findings first sighted by this run (`current`), those of an unlicensed rule dated
    by the first observed day their VM ran unlicensed in the period when that is earlier."""
    if exposure is None:
        return findings
    return tuple(_dated(finding, current, exposure) for finding in findings)


def _dated(finding: Finding, current: Sighting, exposure: Exposure) -> Finding:
    if (
        finding.first_seen != current
        or finding.rule_id not in UNLICENSED_RULES
        or finding.datacenter_id is None
        or finding.vm_id is None
    ):
        return finding
    key = VmKey(finding.service_name, finding.datacenter_id, finding.vm_id)
    period = exposure.period_of(key)
    day = None if period is None else period.first_unlicensed
    if day is None or day >= current.date:
        return finding
    return replace(finding, first_seen=Sighting(current.period, day))
