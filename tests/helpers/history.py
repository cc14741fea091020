"""Small in-process fleets for the history tests: a snapshot per month, run through run_job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.collect.source import SnapshotSource
from audit.job import JobResult, JobSpec, run_job
from audit.model.period import Period
from audit.model.snapshot import (
    Coverage,
    DatacenterSnapshot,
    Failure,
    ServiceSnapshot,
    Snapshot,
    SnapshotMeta,
    write_snapshot,
)
from tests.helpers.vms import listed as vms_listed

PROD = "pcc-203-0-113-10"
LAB = "pcc-198-51-100-7"

WIN = "windows2019srv_64Guest"
WIN_CLIENT = "windows9_64Guest"
LINUX = "debian12_64Guest"
STD = "windows 2019 Standard"

Fleet = dict[tuple[str, int], list[dict[str, Any]]]


def snapshot(fleet: Fleet, taken_at: str, failures: tuple[Failure, ...] = ()) -> Snapshot:
    """A complete snapshot of `fleet` (vmLicensed derived from the licences), plus failures."""
    services: dict[str, list[DatacenterSnapshot]] = {}
    for (service, dc), vms in sorted(fleet.items()):
        listed = sorted(vms, key=lambda item: int(item["vmId"]))
        services.setdefault(service, []).append(
            DatacenterSnapshot(
                datacenter_id=dc,
                details={"datacenterId": dc},
                vm_ids=tuple(int(item["vmId"]) for item in listed),
                vms=tuple(listed),
                vm_licensed=tuple(vms_listed(listed)),
            )
        )
    count = sum(len(vms) for vms in fleet.values())
    return Snapshot(
        meta=SnapshotMeta(taken_at=taken_at, endpoint="ovh-eu", tool_version="test"),
        services=tuple(
            ServiceSnapshot(name, {"serviceName": name}, tuple(dcs))
            for name, dcs in services.items()
        ),
        coverage=Coverage(
            services_listed=len(services),
            services_read=len(services),
            datacenters_listed=len(fleet),
            datacenters_read=len(fleet),
            vms_listed=count,
            vms_fetched=count,
            failures=failures,
        ),
    )


def run_month(
    out: Path,
    period: str,
    fleet: Fleet,
    failures: tuple[Failure, ...] = (),
    wait_s: float = 30.0,
    fail_on: str = "never",
) -> JobResult:
    """The monthly job for `period` over a stored snapshot of `fleet`, taken on the 1st."""
    path = out.parent / f"{out.name}-{period}-input.json.gz"
    write_snapshot(snapshot(fleet, f"{period}-01T03:00:00Z", failures), path)
    spec = JobSpec(
        out_dir=out,
        period=Period.from_label(period),
        source=SnapshotSource(from_file=path),
        fail_on=fail_on,
        history_wait_s=wait_s,
    )
    return run_job(spec)


def by_vm(document: dict[str, Any]) -> dict[tuple[int, str], dict[str, Any]]:
    """findings.json's findings by (VM id, rule id)."""
    return {(f["vm_id"], f["rule_id"]): f for f in document["findings"]}


def events(document: dict[str, Any]) -> list[tuple[str, int, Any, Any]]:
    """findings.json's licence events as (event, VM id, before, after)."""
    return [(e["event"], e["vm_id"], e["before"], e["after"]) for e in document["changes"]]
