"""The simulator's state: services, datacenters and VMs, read from a fleet file (docs/DESIGN.md).

The file is validated up front so that a typo in a hand-written fleet is reported with the
file and the JSON path of the bad field, not as a 500 from the simulator later.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn, TypeGuard

from audit.support.errors import InputError
from audit.support.jsontypes import JSONObject

TOOLS_GUEST_OS_FAMILY = "toolsGuestOsFamily"

#: The fields of `dedicatedCloud.Vm` in OVHcloud's published schema (all nullable but
#: vmId, moRef and powerState, which every fleet VM has).
VM_FIELDS = (
    "backup",
    "cdroms",
    "clusterName",
    "cpuMax",
    "cpuNum",
    "cpuReady",
    "cpuReadyPercent",
    "cpuUsed",
    "filers",
    "folderName",
    "guestOsFamily",
    "hostName",
    "license",
    "memoryMax",
    "memoryTps",
    "memoryUsed",
    "moRef",
    "name",
    "netPacketRx",
    "netPacketTx",
    "netRx",
    "netTx",
    "networks",
    "powerState",
    "readLatency",
    "readPerSecond",
    "readRate",
    "roleFt",
    "snapshotNum",
    "stateFt",
    "vmId",
    "vmwareTools",
    "vmwareToolsVersion",
    "writeLatency",
    "writePerSecond",
    "writeRate",
)


class PowerState(StrEnum):
    """`dedicatedCloud.VirtualMachinePowerState`."""

    POWERED_ON = "poweredOn"
    POWERED_OFF = "poweredOff"
    SUSPENDED = "suspended"
    DELETED = "deleted"


@dataclass(frozen=True)
class Fault:
    """A path that always answers `status`: an outage that no retry can fix."""

    path: str
    status: int


@dataclass(frozen=True)
class Vm:
    """One VM as the fleet file gives it: any `dedicatedCloud.Vm` field, plus the Tools view.

    Immutable: a licence change replaces the record, so readers never see it half changed.
    """

    fields: Mapping[str, Any]

    @property
    def vm_id(self) -> int:
        return int(self.fields["vmId"])

    @property
    def license(self) -> str | None:
        value = self.fields.get("license")
        return None if value is None else str(value)

    @property
    def guest_os_family(self) -> str | None:
        value = self.fields.get("guestOsFamily")
        return None if value is None else str(value)

    @property
    def tools_guest_os_family(self) -> str | None:
        """The guest OS VMware Tools report; the configured one unless the file says otherwise."""
        if TOOLS_GUEST_OS_FAMILY in self.fields:
            value = self.fields[TOOLS_GUEST_OS_FAMILY]
            return None if value is None else str(value)
        return self.guest_os_family

    def api_object(self) -> JSONObject:
        """The `dedicatedCloud.Vm` the API serves: every field but the Tools view.

        The API serves every field of the model, null when it has no value; fields the fleet
        file leaves out (backup, filers, networks, metrics...) are served as null.
        """
        served = {key: value for key, value in self.fields.items() if key != TOOLS_GUEST_OS_FAMILY}
        return {**dict.fromkeys(VM_FIELDS), **served}

    def licensing_summary(self) -> JSONObject:
        """This VM as a `virtualMachineLicensingSummary` (a vmLicensed entry)."""
        return {
            "vmId": self.vm_id,
            "name": self.fields.get("name"),
            "moRef": self.fields.get("moRef"),
            "guestOsFamily": self.tools_guest_os_family,
            "license": self.license,
        }

    def with_license(self, license: str | None) -> Vm:
        return replace(self, fields=MappingProxyType({**self.fields, "license": license}))

    def to_json(self) -> JSONObject:
        return dict(self.fields)


@dataclass
class Datacenter:
    """A datacenter's state. `vm_licensed` None means derived from the VMs' licences."""

    datacenter_id: int
    attributes: JSONObject
    vms: dict[int, Vm]
    vm_licensed: list[JSONObject] | None = None

    def api_object(self, service_name: str) -> JSONObject:
        """`dedicatedCloud.Datacenter`: realistic defaults, overridden by the file's fields."""
        defaults: JSONObject = {
            "datacenterId": self.datacenter_id,
            "name": f"{service_name}_datacenter{self.datacenter_id}",
            "description": "",
            "commercialName": "SDDC",
            "commercialRangeName": "2018v7",
            "version": "8.0",
            "isRemovable": False,
            "horizonViewName": None,
        }
        return {**defaults, **self.attributes}

    def licensed_summaries(self) -> list[JSONObject]:
        """The vmLicensed listing: as given by the file, else one entry per licensed VM."""
        if self.vm_licensed is not None:
            return [dict(entry) for entry in self.vm_licensed]
        return [vm.licensing_summary() for vm in self.vms.values() if vm.license is not None]

    def set_license(self, vm_id: int, license: str | None) -> None:
        """Apply a finished setLicense/removeLicense to both views of the licence."""
        vm = self.vms[vm_id].with_license(license)
        self.vms[vm_id] = vm
        if self.vm_licensed is None:
            return
        kept = [entry for entry in self.vm_licensed if entry.get("vmId") != vm_id]
        if license is not None:
            kept.append(vm.licensing_summary())
        self.vm_licensed = kept

    def to_json(self) -> JSONObject:
        return {
            "datacenterId": self.datacenter_id,
            **self.attributes,
            "vms": [vm.to_json() for vm in self.vms.values()],
            "vmLicensed": self.licensed_summaries() if self.vm_licensed is not None else None,
        }


@dataclass
class Service:
    """One Hosted Private Cloud service (`pcc-...`)."""

    service_name: str
    attributes: JSONObject
    datacenters: dict[int, Datacenter]

    def api_object(self) -> JSONObject:
        """`dedicatedCloud.dedicatedCloudWithIAM`: realistic defaults, overridden by the file."""
        description = self.attributes.get("description", "")
        host = f"https://{self.service_name}.ovh.com"
        defaults: JSONObject = {
            "serviceName": self.service_name,
            "description": description,
            "location": "rbx2",
            "state": "delivered",
            "spla": False,
            "generation": "2.0",
            "version": {"major": "8.0", "minor": "3", "build": "24022515"},
            "billingType": "monthly",
            "bandwidth": "10 Gbps",
            "canMigrateToVCD": False,
            "certifiedInterfaceUrl": f"https://certified-{self.service_name}.ovh.com/ui",
            "vScopeUrl": f"{host}/vScope",
            "webInterfaceUrl": f"{host}/ui",
            "commercialRange": "2018v7",
            "managementInterface": "vsphere",
            "productReference": "EPCC",
            "servicePackName": "default",
            "sslV3": False,
            "userAccessPolicy": "filtered",
            "userLimitConcurrentSession": 50,
            "userLogoutPolicy": "first",
            "userSessionTimeout": 1800,
            "advancedSecurity": False,
            "iam": {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"dedicatedCloud/{self.service_name}")),
                "urn": f"urn:v1:eu:resource:dedicatedCloud:{self.service_name}",
                "displayName": description or self.service_name,
                "state": "OK",
                "tags": {},
            },
        }
        return {**defaults, **self.attributes}

    def to_json(self) -> JSONObject:
        return {
            "serviceName": self.service_name,
            **self.attributes,
            "datacenters": [dc.to_json() for dc in self.datacenters.values()],
        }


@dataclass
class Fleet:
    """Everything the simulated account holds, in file order."""

    services: dict[str, Service]
    faults: tuple[Fault, ...] = field(default=())

    def vms(self) -> list[tuple[str, int, Vm]]:
        """Every VM with its service name and datacenter id."""
        return [
            (service.service_name, dc.datacenter_id, vm)
            for service in self.services.values()
            for dc in service.datacenters.values()
            for vm in dc.vms.values()
        ]

    def to_json(self) -> JSONObject:
        """The fleet file for this state (`load_fleet` reads it back to an equal fleet)."""
        return {
            "services": [service.to_json() for service in self.services.values()],
            "faults": [{"path": fault.path, "status": fault.status} for fault in self.faults],
        }

    @classmethod
    def from_json(cls, data: object, source: str) -> Fleet:
        """Validate a parsed fleet file; errors name `source` and the JSON path."""
        return _Parser(source).fleet(data)


#: The first bytes of a gzip file, as a snapshot.json.gz starts.
GZIP_MAGIC = b"\x1f\x8b"


def load_fleet(path: Path | str) -> Fleet:
    """Read and validate a fleet file; any problem is an InputError naming file and field."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    if data.startswith(GZIP_MAGIC):
        raise InputError(
            f"{source}: a gzip file (a snapshot?): --fleet takes a fleet file, JSON describing "
            "services, datacenters and VMs (see the README's simulator section), not a snapshot"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 text: {exc.reason}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    return Fleet.from_json(data, source)


_VM_STRING_FIELDS = ("moRef",)
_VM_NULLABLE_STRING_FIELDS = (
    "name",
    "guestOsFamily",
    TOOLS_GUEST_OS_FAMILY,
    "license",
    "clusterName",
    "hostName",
    "folderName",
    "vmwareTools",
    "vmwareToolsVersion",
)
_VM_NULLABLE_INT_FIELDS = ("cpuNum", "memoryMax", "snapshotNum")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


class _Parser:
    """Walks a parsed fleet file, checking each field it knows and keeping the others."""

    def __init__(self, source: str) -> None:
        self._source = source

    def _fail(self, where: str, problem: str) -> NoReturn:
        raise InputError(f"{self._source}: {where}: {problem}")

    def _object(self, value: object, where: str) -> JSONObject:
        if not isinstance(value, dict):
            self._fail(where, "expected an object")
        return value

    def _list(self, value: object, where: str) -> list[Any]:
        if not isinstance(value, list):
            self._fail(where, "expected a list")
        return value

    def _check(
        self, obj: JSONObject, key: str, where: str, ok: Callable[[object], bool], expected: str
    ) -> None:
        if key in obj and not ok(obj[key]):
            self._fail(f"{where}.{key}", f"expected {expected}")

    def _required(self, obj: JSONObject, key: str, where: str) -> object:
        if key not in obj:
            self._fail(f"{where}.{key}", "missing")
        return obj[key]

    def fleet(self, data: object) -> Fleet:
        root = self._object(data, "(root)")
        services: dict[str, Service] = {}
        items = self._list(self._required(root, "services", "(root)"), "services")
        for index, item in enumerate(items):
            service = self._service(item, f"services[{index}]")
            if service.service_name in services:
                self._fail(f"services[{index}].serviceName", "duplicate service name")
            services[service.service_name] = service
        faults_data = root.get("faults")
        faults = () if faults_data is None else self._faults(faults_data)
        return Fleet(services=services, faults=faults)

    def _faults(self, data: object) -> tuple[Fault, ...]:
        faults = []
        for index, item in enumerate(self._list(data, "faults")):
            where = f"faults[{index}]"
            obj = self._object(item, where)
            path = self._required(obj, "path", where)
            if not isinstance(path, str) or not path.startswith("/"):
                self._fail(f"{where}.path", 'expected a path starting with "/"')
            status = self._required(obj, "status", where)
            if not _is_int(status) or not 400 <= status <= 599:
                self._fail(f"{where}.status", "expected an HTTP error status (400-599)")
            faults.append(Fault(path=path, status=status))
        return tuple(faults)

    def _service(self, data: object, where: str) -> Service:
        obj = self._object(data, where)
        name = self._required(obj, "serviceName", where)
        if not isinstance(name, str) or not name or "/" in name:
            self._fail(f"{where}.serviceName", 'expected a non-empty string without "/"')
        self._check(obj, "description", where, lambda v: isinstance(v, str), "a string")
        self._check(obj, "spla", where, lambda v: isinstance(v, bool), "true or false")
        datacenters: dict[int, Datacenter] = {}
        items = self._list(self._required(obj, "datacenters", where), f"{where}.datacenters")
        for index, item in enumerate(items):
            dc_where = f"{where}.datacenters[{index}]"
            dc = self._datacenter(item, dc_where)
            if dc.datacenter_id in datacenters:
                self._fail(f"{dc_where}.datacenterId", "duplicate datacenter id")
            datacenters[dc.datacenter_id] = dc
        attributes = {k: v for k, v in obj.items() if k not in ("serviceName", "datacenters")}
        return Service(service_name=name, attributes=attributes, datacenters=datacenters)

    def _datacenter(self, data: object, where: str) -> Datacenter:
        obj = self._object(data, where)
        dc_id = self._required(obj, "datacenterId", where)
        if not _is_int(dc_id):
            self._fail(f"{where}.datacenterId", "expected an integer")
        for key in ("name", "description"):
            self._check(obj, key, where, lambda v: isinstance(v, str), "a string")
        vms: dict[int, Vm] = {}
        for index, item in enumerate(self._list(self._required(obj, "vms", where), f"{where}.vms")):
            vm = self._vm(item, f"{where}.vms[{index}]")
            if vm.vm_id in vms:
                self._fail(f"{where}.vms[{index}].vmId", "duplicate VM id in this datacenter")
            vms[vm.vm_id] = vm
        licensed_data = obj.get("vmLicensed")
        vm_licensed = (
            None
            if licensed_data is None
            else [
                self._licensing_summary(item, f"{where}.vmLicensed[{index}]")
                for index, item in enumerate(self._list(licensed_data, f"{where}.vmLicensed"))
            ]
        )
        attributes = {
            k: v for k, v in obj.items() if k not in ("datacenterId", "vms", "vmLicensed")
        }
        return Datacenter(
            datacenter_id=dc_id, attributes=attributes, vms=vms, vm_licensed=vm_licensed
        )

    def _vm(self, data: object, where: str) -> Vm:
        obj = self._object(data, where)
        if not _is_int(self._required(obj, "vmId", where)):
            self._fail(f"{where}.vmId", "expected an integer")
        for key in _VM_STRING_FIELDS:
            self._check(obj, key, where, lambda v: isinstance(v, str), "a string")
        for key in _VM_NULLABLE_STRING_FIELDS:
            self._check(
                obj, key, where, lambda v: v is None or isinstance(v, str), "a string or null"
            )
        for key in _VM_NULLABLE_INT_FIELDS:
            self._check(obj, key, where, lambda v: v is None or _is_int(v), "an integer or null")
        states = [state.value for state in PowerState]
        self._check(obj, "powerState", where, lambda v: v in states, f"one of {', '.join(states)}")
        return Vm(fields=MappingProxyType(dict(obj)))

    def _licensing_summary(self, data: object, where: str) -> JSONObject:
        obj = self._object(data, where)
        if not _is_int(self._required(obj, "vmId", where)):
            self._fail(f"{where}.vmId", "expected an integer")
        if not isinstance(self._required(obj, "license", where), str):
            self._fail(f"{where}.license", "expected a string")
        self._check(obj, "moRef", where, lambda v: isinstance(v, str), "a string")
        for key in ("name", "guestOsFamily"):
            self._check(
                obj, key, where, lambda v: v is None or isinstance(v, str), "a string or null"
            )
        return dict(obj)
