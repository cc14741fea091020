"""What the collection read, per datacenter, as both reports' Coverage section and sheet show it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from audit.model.snapshot import Failure
from audit.render.base import ReportInput


@dataclass(frozen=True)
class DatacenterCoverage:
    """What collect read of one datacenter (or, with no datacenter, of a whole service)."""

    service_name: str | None
    datacenter_id: int | None
    name: str | None
    vms_listed: int
    vms_fetched: int
    vm_licensed_read: bool
    failures: tuple[Failure, ...]


def datacenter_coverage(run: ReportInput) -> list[DatacenterCoverage]:
    """Per datacenter: VMs listed and fetched, and the failures recorded against it.

    Failures of a whole service (or of the service list) get a row of their own, so no
    failure is left out of the per-datacenter view.
    """
    failures: dict[tuple[str | None, int | None], list[Failure]] = defaultdict(list)
    for failure in run.inventory.coverage.failures:
        failures[(failure.service_name, failure.datacenter_id)].append(failure)
    rows = []
    for dc in run.inventory.datacenters:
        rows.append(
            DatacenterCoverage(
                service_name=dc.service_name,
                datacenter_id=dc.datacenter_id,
                name=dc.name,
                vms_listed=len(dc.vm_ids),
                vms_fetched=len(dc.vms),
                vm_licensed_read=dc.licensed is not None,
                failures=tuple(failures.pop((dc.service_name, dc.datacenter_id), ())),
            )
        )
    for (service_name, dc_id), unplaced in failures.items():
        rows.append(DatacenterCoverage(service_name, dc_id, None, 0, 0, False, tuple(unplaced)))
    return rows


def describe_failure(failure: Failure) -> str:
    """One line per failure: what could not be read, where, and the error."""
    subject = f"VM {failure.vm_id}" if failure.vm_id is not None else failure.scope.value
    return f"{subject} ({failure.path}): {failure.error}"
