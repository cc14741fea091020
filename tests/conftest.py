"""Shared fixtures: a small hand-written fleet, a running simulator and real `ovh` clients."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import ovh
import pytest

from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
    SimulatorConfig,
)
from audit.simulator.fleet import Fleet
from audit.simulator.server import Simulator

PROD = "pcc-203-0-113-10"
DR = "pcc-198-51-100-24"


def sim_vm(
    vm_id: int,
    name: str,
    guest: str | None,
    license: str | None,
    power: str = "poweredOn",
    **extra: Any,
) -> dict[str, Any]:
    """A `dedicatedCloud.Vm` as a fleet file holds it."""
    return {
        "vmId": vm_id,
        "moRef": f"vm-{vm_id}",
        "name": name,
        "powerState": power,
        "guestOsFamily": guest,
        "license": license,
        "cpuNum": 4,
        "memoryMax": 8192,
        "clusterName": "Cluster1",
        "hostName": "172.16.0.11",
        "folderName": "Prod",
        **extra,
    }


@pytest.fixture
def fleet_data() -> dict[str, Any]:
    """Two services; datacenter 1 derives vmLicensed, datacenter 2 overrides it with drift."""
    return {
        "services": [
            {
                "serviceName": PROD,
                "description": "Production",
                "spla": True,
                "datacenters": [
                    {
                        "datacenterId": 1,
                        "name": f"{PROD}_datacenter1",
                        "vms": [
                            sim_vm(
                                1074,
                                "sql-prod-01",
                                "windows2019srv_64Guest",
                                "windows 2019 Standard Core",
                            ),
                            sim_vm(1075, "web-prod-01", "debian12_64Guest", None),
                            sim_vm(
                                1076,
                                "app-win-01",
                                "windows9Server64Guest",
                                "windows 2022 Standard",
                                toolsGuestOsFamily="windows2019srvNext_64Guest",
                            ),
                            sim_vm(
                                1077, "erp-01", "windows8Server64Guest", "windows 2012 R2 Standard"
                            ),
                            sim_vm(1078, "fw-appliance-01", None, None),
                        ],
                        "vmLicensed": None,
                    },
                    {
                        "datacenterId": 2,
                        "name": f"{PROD}_datacenter2",
                        "vms": [
                            sim_vm(
                                2001,
                                "file-01",
                                "windows2019srvNext_64Guest",
                                "windows 2022 Datacenter",
                            ),
                            sim_vm(2002, "pg-01", "rhel9_64Guest", None, "poweredOff"),
                        ],
                        "vmLicensed": [
                            {
                                "vmId": 2001,
                                "name": "file-01",
                                "moRef": "vm-2001",
                                "guestOsFamily": "windows2019srvNext_64Guest",
                                "license": "windows 2022 Standard",
                            },
                            {
                                "vmId": 2999,
                                "name": "ghost-01",
                                "moRef": "vm-2999",
                                "guestOsFamily": "windows2019srv_64Guest",
                                "license": "windows 2019 Standard",
                            },
                        ],
                    },
                ],
            },
            {
                "serviceName": DR,
                "description": "Disaster recovery",
                "spla": False,
                "datacenters": [
                    {
                        "datacenterId": 3,
                        "vms": [sim_vm(3001, "dr-sql-01", "windows2019srv_64Guest", None)],
                    }
                ],
            },
        ],
        "faults": [{"path": f"/dedicatedCloud/{DR}/datacenter/3/vm", "status": 503}],
    }


@pytest.fixture
def simulator(fleet_data: dict[str, Any]) -> Iterator[Simulator]:
    """The hand-written fleet served on a free port, with fast licence tasks."""
    fleet = Fleet.from_json(fleet_data, "fleet_data")
    with Simulator(fleet, SimulatorConfig(task_seconds=0.1)) as running:
        yield running


ClientFactory = Callable[..., Any]


@pytest.fixture
def make_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
    """Build real `ovh.Client`s for a simulator (one per thread, as the client requires)."""
    clients: list[Any] = []

    def make(
        sim: Simulator,
        consumer_key: str = READONLY_CONSUMER_KEY,
        application_key: str = DEFAULT_APPLICATION_KEY,
        application_secret: str = DEFAULT_APPLICATION_SECRET,
    ) -> Any:
        name = f"simulator-{sim.port}"
        monkeypatch.setitem(ovh.client.ENDPOINTS, name, sim.url)
        client = ovh.Client(
            endpoint=name,
            application_key=application_key,
            application_secret=application_secret,
            consumer_key=consumer_key,
            timeout=10,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client._session.close()


def require_or_skip(reason: str) -> None:
    """Skip a test whose external tool is missing on a developer's machine; fail it in CI,
    where .ci/run installs the tool, so a missing install step cannot pass unnoticed."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must install it: see .ci/run)")
    pytest.skip(reason)
