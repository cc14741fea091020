"""The small hand-written fleet most tests start from: two services, three datacenters, each
case of the rules once (a derived vmLicensed, one overridden with drift, a faulty datacenter)."""

from __future__ import annotations

from typing import Any

from tests.helpers.vms import PLACED, api_vm, licensed_entry

PROD = "pcc-203-0-113-10"
DR = "pcc-198-51-100-24"


def hand_written_fleet() -> dict[str, Any]:
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
                            api_vm(
                                1074,
                                "windows2019srv_64Guest",
                                "windows 2019 Standard Core",
                                name="sql-prod-01",
                                **PLACED,
                            ),
                            api_vm(1075, "debian12_64Guest", None, name="web-prod-01", **PLACED),
                            api_vm(
                                1076,
                                "windows9Server64Guest",
                                "windows 2022 Standard",
                                name="app-win-01",
                                toolsGuestOsFamily="windows2019srvNext_64Guest",
                                **PLACED,
                            ),
                            api_vm(
                                1077,
                                "windows8Server64Guest",
                                "windows 2012 R2 Standard",
                                name="erp-01",
                                **PLACED,
                            ),
                            api_vm(1078, None, None, name="fw-appliance-01", **PLACED),
                        ],
                        "vmLicensed": None,
                    },
                    {
                        "datacenterId": 2,
                        "name": f"{PROD}_datacenter2",
                        "vms": [
                            api_vm(
                                2001,
                                "windows2019srvNext_64Guest",
                                "windows 2022 Datacenter",
                                name="file-01",
                                **PLACED,
                            ),
                            api_vm(
                                2002,
                                "rhel9_64Guest",
                                None,
                                name="pg-01",
                                power="poweredOff",
                                **PLACED,
                            ),
                        ],
                        "vmLicensed": [
                            licensed_entry(
                                2001,
                                "windows 2022 Standard",
                                "windows2019srvNext_64Guest",
                                name="file-01",
                                moRef="vm-2001",
                            ),
                            licensed_entry(
                                2999, "windows 2019 Standard", name="ghost-01", moRef="vm-2999"
                            ),
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
                        "vms": [
                            api_vm(3001, "windows2019srv_64Guest", None, name="dr-sql-01", **PLACED)
                        ],
                    }
                ],
            },
        ],
        "faults": [{"path": f"/dedicatedCloud/{DR}/datacenter/3/vm", "status": 503}],
    }
