"""The remediation tests' fleet (one of each licence action, a manual item, a clean VM and
hostile names) and its monthly run through the real client against a simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.collect.api import ClientFactory, Credentials, resolve_endpoint
from audit.collect.collector import CollectOptions
from audit.collect.source import SnapshotSource
from audit.job import JobResult, JobSpec, run_job
from audit.model.period import Period
from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
)
from audit.simulator.server import Simulator
from tests.helpers.vms import PLACED, api_vm

SERVICE = "pcc-192-0-2-50"
INJECTION = "\"; import os; os.system('x') #"
FORMULA = '=HYPERLINK("http://x","y")'
MARKUP = "<script>alert(1)</script>\nsecond line 数据 ✓\u2028{__import__('os')}{{}}\\"


def fleet_document() -> dict[str, Any]:
    """One of each licence action, a manual item, a clean VM and hostile names."""
    vms = [
        api_vm(101, "windows2019srv_64Guest", None, name="win2019-unlicensed", **PLACED),
        api_vm(102, "rhel9_64Guest", "windows 2019 Standard", name="linux-licensed", **PLACED),
        api_vm(
            103,
            "windows2019srvNext_64Guest",
            "windows 2019 Datacenter",
            name="win2022-mismatch",
            **PLACED,
        ),
        api_vm(104, "windows9Server64Guest", None, name="win-version-unknown", **PLACED),
        api_vm(105, "windows2019srv_64Guest", "windows 2019 Standard", name="clean", **PLACED),
        api_vm(
            106,
            "windows2022srvNext_64Guest",
            "unlicensed windows guestos",
            name=INJECTION,
            **PLACED,
        ),
        api_vm(107, "windows2019srv_64Guest", None, name=FORMULA, **PLACED),
        api_vm(108, "debian12_64Guest", "windows 2022 Standard", name=MARKUP, **PLACED),
    ]
    datacenter = {"datacenterId": 1, "vms": vms}
    return {"services": [{"serviceName": SERVICE, "spla": True, "datacenters": [datacenter]}]}


def month(sim: Simulator, out: Path, period: str) -> JobResult:
    """The monthly job for `period`, reading the simulator with the read-only key."""
    credentials = Credentials(
        DEFAULT_APPLICATION_KEY, DEFAULT_APPLICATION_SECRET, READONLY_CONSUMER_KEY
    )
    source = SnapshotSource(
        factory=ClientFactory(resolve_endpoint(sim.url), credentials),
        options=CollectOptions(workers=2, max_rps=None),
        endpoint_label="simulator",
    )
    return run_job(JobSpec(out_dir=out, period=Period.from_label(period), source=source))
