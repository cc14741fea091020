"""The one builder of API-shaped VMs: a raw `dedicatedCloud.Vm` as the API returns it, a
simulator fleet file holds it and a snapshot keeps it (camelCase keys), and a vmLicensed entry.

Every test that needs a VM builds it here, so the API's shape is written once.
"""

from __future__ import annotations

from typing import Any

# Where a VM sits and what it has, as a fleet file or a full collection gives it.
PLACED: dict[str, Any] = {
    "cpuNum": 4,
    "memoryMax": 8192,
    "clusterName": "Cluster1",
    "hostName": "172.16.0.11",
    "folderName": "Prod",
}


def api_vm(
    vm_id: int,
    guest: str | None,
    licence: str | None,
    *,
    power: str = "poweredOn",
    name: str | None = None,
    cpus: int = 2,
    **fields: Any,
) -> dict[str, Any]:
    """A `dedicatedCloud.Vm`: `guest` is `guestOsFamily`, `licence` is `license`; `fields`
    adds or overrides any API field by its API name (`**PLACED` for a VM with placement)."""
    return {
        "vmId": vm_id,
        "moRef": f"vm-{vm_id}",
        "name": f"vm-{vm_id}" if name is None else name,
        "powerState": power,
        "guestOsFamily": guest,
        "license": licence,
        "cpuNum": cpus,
        **fields,
    }


def licensed_entry(
    vm_id: int | None,
    licence: str | None,
    guest: str | None = "windows2019srv_64Guest",
    **fields: Any,
) -> dict[str, Any]:
    """A vmLicensed `virtualMachineLicensingSummary`: the guest OS as VMware Tools report it."""
    return {"vmId": vm_id, "guestOsFamily": guest, "license": licence, **fields}


def listed(vms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The vmLicensed listing the API derives from `vms`: one entry per VM with a licence."""
    keys = ("vmId", "name", "moRef", "guestOsFamily", "license")
    return [{key: vm.get(key) for key in keys} for vm in vms if vm.get("license") is not None]
