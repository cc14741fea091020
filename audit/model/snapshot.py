"""The snapshot: raw API objects plus run metadata and coverage, the file between stages.

Written by collect, read by evaluate and render. The content is sorted by id so that the
same fleet gives the same content however the calls were scheduled, retried or throttled.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import stat
import zlib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from audit.model.identity import VmKey
from audit.support.errors import InputError
from audit.support.fsutil import atomic_write_bytes
from audit.support.jsontypes import JSONObject
from audit.support.timestamps import parse_timestamp, parse_utc, utc_day

FORMAT = "ovh-license-audit/snapshot"
FORMAT_VERSION = 1


class Scope(StrEnum):
    """What a coverage failure could not read."""

    SERVICES = "services"
    SERVICE = "service"
    DATACENTER = "datacenter"
    VM = "vm"
    VM_LICENSED = "vmLicensed"


@dataclass(frozen=True)
class Failure:
    """One API object that could not be read after retries."""

    scope: Scope
    path: str
    error: str
    service_name: str | None = None
    datacenter_id: int | None = None
    vm_id: int | None = None


@dataclass(frozen=True)
class Coverage:
    """What was listed versus what was actually read: an incomplete audit must say so."""

    services_listed: int = 0
    services_read: int = 0
    datacenters_listed: int = 0
    datacenters_read: int = 0
    vms_listed: int = 0
    vms_fetched: int = 0
    failures: tuple[Failure, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.failures

    @property
    def services_failed(self) -> int:
        return self.services_listed - self.services_read

    @property
    def datacenters_failed(self) -> int:
        return self.datacenters_listed - self.datacenters_read

    @property
    def vms_failed(self) -> int:
        return self.vms_listed - self.vms_fetched

    def to_json(self) -> JSONObject:
        return {
            "complete": self.complete,
            "services_listed": self.services_listed,
            "services_read": self.services_read,
            "services_failed": self.services_failed,
            "datacenters_listed": self.datacenters_listed,
            "datacenters_read": self.datacenters_read,
            "datacenters_failed": self.datacenters_failed,
            "vms_listed": self.vms_listed,
            "vms_fetched": self.vms_fetched,
            "vms_failed": self.vms_failed,
            "failures": [
                {**asdict(failure), "scope": failure.scope.value} for failure in self.failures
            ],
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> Coverage:
        return cls(
            services_listed=int(data["services_listed"]),
            services_read=int(data["services_read"]),
            datacenters_listed=int(data["datacenters_listed"]),
            datacenters_read=int(data["datacenters_read"]),
            vms_listed=int(data["vms_listed"]),
            vms_fetched=int(data["vms_fetched"]),
            failures=tuple(
                Failure(
                    scope=Scope(item["scope"]),
                    path=str(item["path"]),
                    error=str(item["error"]),
                    service_name=item.get("service_name"),
                    datacenter_id=item.get("datacenter_id"),
                    vm_id=item.get("vm_id"),
                )
                for item in data["failures"]
            ),
        )


@dataclass(frozen=True)
class Unread:
    """What a collection's failures hide, by scope: a VM in an unread scope may exist, may
    hold a finding, may have changed; nothing can be said of it from this snapshot.

    `everything` (the service list failed), whole services (their details or datacenter list),
    datacenters (their details or VM list), single VMs, and vmLicensed listings.
    """

    everything: bool = False
    services: frozenset[str] = frozenset()
    datacenters: frozenset[tuple[str, int]] = frozenset()
    vms: frozenset[VmKey] = frozenset()
    listings: frozenset[tuple[str, int]] = frozenset()

    @classmethod
    def from_coverage(cls, coverage: Coverage) -> Unread:
        services: set[str] = set()
        datacenters: set[tuple[str, int]] = set()
        vms: set[VmKey] = set()
        listings: set[tuple[str, int]] = set()
        everything = False
        for failure in coverage.failures:
            service, dc, vm = failure.service_name, failure.datacenter_id, failure.vm_id
            if failure.scope is Scope.SERVICES or service is None:
                everything = True
            elif failure.scope is Scope.SERVICE or dc is None:
                services.add(service)
            elif failure.scope is Scope.DATACENTER:
                datacenters.add((service, dc))
            elif failure.scope is Scope.VM_LICENSED:
                listings.add((service, dc))
            elif vm is None:
                datacenters.add((service, dc))
            else:
                vms.add(VmKey(service, dc, vm))
        return cls(
            everything,
            frozenset(services),
            frozenset(datacenters),
            frozenset(vms),
            frozenset(listings),
        )

    def service(self, service: str) -> bool:
        """Whether the whole service (or every service) may hide VMs."""
        return self.everything or service in self.services

    def listing_trusted(self, service: str, dc: int) -> bool:
        """Whether the datacenter's list of VM ids was read (so a VM absent from it is gone)."""
        return (service, dc) not in self.datacenters

    def vm(self, service: str, dc: int | None, vm: int | None) -> bool:
        """Whether the VM (or, with no ids, its scope) could not be read."""
        return (
            self.service(service)
            or (dc is not None and (service, dc) in self.datacenters)
            or (dc is not None and vm is not None and (service, dc, vm) in self.vms)
        )

    def vm_or_listing(self, service: str, dc: int | None, vm: int | None) -> bool:
        """Whether a finding of the VM could have been missed: its VM or vmLicensed unread."""
        return self.vm(service, dc, vm) or (dc is not None and (service, dc) in self.listings)


@dataclass(frozen=True)
class DatacenterSnapshot:
    """One datacenter: its details, listed VM ids, fetched VM objects and vmLicensed listing.

    `vms` holds raw `dedicatedCloud.Vm` objects, sorted by vmId; `vm_licensed` the raw
    `virtualMachineLicensingSummary` list, or None when it could not be read.
    """

    datacenter_id: int
    details: JSONObject | None
    vm_ids: tuple[int, ...]
    vms: tuple[JSONObject, ...]
    vm_licensed: tuple[JSONObject, ...] | None


@dataclass(frozen=True)
class ServiceSnapshot:
    """One Hosted Private Cloud service (`pcc-...`) with its datacenters, sorted by id."""

    service_name: str
    details: JSONObject | None
    datacenters: tuple[DatacenterSnapshot, ...]


UNKNOWN = "unknown"


@dataclass(frozen=True)
class CredentialRule:
    """One access rule of a consumer key: a method on a path pattern (`*` any suffix)."""

    method: str
    path: str


@dataclass(frozen=True)
class CredentialInfo:
    """What the API said of the run's consumer key (`GET /auth/currentCredential`), never
    the key itself. `status` is `unknown` when it could not be read, with the reason in `note`.
    """

    status: str = UNKNOWN
    expiration: str | None = None
    rules: tuple[CredentialRule, ...] = ()
    note: str = ""

    @property
    def known(self) -> bool:
        return self.status != UNKNOWN

    @property
    def may_write(self) -> bool:
        """Any rule with a method other than GET: the key could change the account."""
        return any(rule.method.upper() != "GET" for rule in self.rules)

    @classmethod
    def from_json(cls, data: JSONObject) -> CredentialInfo:
        return cls(
            status=str(data.get("status", UNKNOWN)),
            expiration=data.get("expiration"),
            rules=tuple(
                CredentialRule(str(rule["method"]), str(rule["path"]))
                for rule in data.get("rules", ())
            ),
            note=str(data.get("note", "")),
        )


# A key that expires within this time of the snapshot is reported: next month's job would fail.
EXPIRY_WARNING = timedelta(days=30)


def credential_warnings(credential: CredentialInfo, taken_at: datetime | None) -> list[str]:
    """What a reader of the run must know about the key, one sentence each."""
    warnings: list[str] = []
    if not credential.known:
        return [f"the consumer key's rights could not be read ({credential.note or 'unknown'})"]
    if credential.note:  # known, but its rules are not what the API documents
        warnings.append(f"the consumer key's rules could not all be read ({credential.note})")
    if credential.may_write:
        methods = sorted({rule.method.upper() for rule in credential.rules} - {"GET"})
        warnings.append(
            f"the audit key may do more than read ({', '.join(methods)} allowed); "
            "an audit key needs GET only (ovh-license-audit auth request)"
        )
    expiration = parse_utc(credential.expiration)
    if expiration is not None and taken_at is not None and expiration - taken_at <= EXPIRY_WARNING:
        days = (expiration - taken_at).days
        when = "has expired" if days < 0 else f"expires in {days} days"
        warnings.append(f"the consumer key {when} ({credential.expiration})")
    return warnings


@dataclass(frozen=True)
class RunMeta:
    """How and when the snapshot was taken. Never holds credentials.

    Fields after `max_rps` came later: a snapshot without them reads with their defaults
    (`credential` None: not recorded).
    """

    taken_at: str
    endpoint: str
    tool_version: str
    duration_s: float = 0.0
    calls: int = 0
    retries: int = 0
    workers: int = 0
    max_rps: float = 0.0
    credential: CredentialInfo | None = None
    rate_reached: float = 0.0  # the adaptive rate at the end of the collection (0: no limit)
    rate_peak: float = 0.0
    throttled: int = 0  # calls the API answered 429
    listing: str = "per-vm"
    listing_fallbacks: tuple[str, ...] = ()  # datacenters whose pages did not match

    @cached_property
    def taken(self) -> datetime:
        """`taken_at` as an aware UTC datetime (ValueError when it is not a timestamp; a
        snapshot read from a file was checked by `check_taken_at`)."""
        return parse_timestamp(self.taken_at)

    @property
    def day(self) -> date:
        """The snapshot's UTC day: its observation's day, and the day exceptions expire from."""
        return utc_day(self.taken)

    @classmethod
    def from_json(cls, data: JSONObject) -> RunMeta:
        fields = dict(data)
        credential = fields.pop("credential", None)
        fallbacks = fields.pop("listing_fallbacks", ())
        return cls(
            **fields,
            credential=None if credential is None else CredentialInfo.from_json(credential),
            listing_fallbacks=tuple(str(item) for item in fallbacks),
        )


@dataclass(frozen=True)
class Snapshot:
    """Everything collect read, as the API returned it."""

    meta: RunMeta
    services: tuple[ServiceSnapshot, ...]
    coverage: Coverage = field(default_factory=Coverage)

    def to_json(self) -> JSONObject:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "run": asdict(self.meta),
            "coverage": self.coverage.to_json(),
            "services": [
                {
                    "serviceName": service.service_name,
                    "details": service.details,
                    "datacenters": [
                        {
                            "datacenterId": dc.datacenter_id,
                            "details": dc.details,
                            "vmIds": list(dc.vm_ids),
                            "vms": list(dc.vms),
                            "vmLicensed": None if dc.vm_licensed is None else list(dc.vm_licensed),
                        }
                        for dc in service.datacenters
                    ],
                }
                for service in self.services
            ],
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> Snapshot:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not an ovh-license-audit snapshot")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported snapshot format_version {data.get('format_version')!r}")
        run = data["run"]
        return cls(
            meta=RunMeta.from_json(run),
            coverage=Coverage.from_json(data["coverage"]),
            services=tuple(
                ServiceSnapshot(
                    service_name=str(service["serviceName"]),
                    details=service["details"],
                    datacenters=tuple(
                        DatacenterSnapshot(
                            datacenter_id=int(dc["datacenterId"]),
                            details=dc["details"],
                            vm_ids=tuple(int(vm_id) for vm_id in dc["vmIds"]),
                            vms=tuple(dc["vms"]),
                            vm_licensed=None
                            if dc["vmLicensed"] is None
                            else tuple(dc["vmLicensed"]),
                        )
                        for dc in service["datacenters"]
                    ),
                )
                for service in data["services"]
            ),
        )


def encode_snapshot(snapshot: Snapshot) -> bytes:
    """Deterministic gzip bytes (fixed mtime, sorted keys) so equal content gives equal sha256."""
    payload = json.dumps(snapshot.to_json(), sort_keys=True, ensure_ascii=False).encode("utf-8")
    return gzip.compress(payload, compresslevel=6, mtime=0)


def write_snapshot(snapshot: Snapshot, path: Path) -> str:
    """Write atomically; return the sha256 of the file written."""
    data = encode_snapshot(snapshot)
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def read_snapshot(path: Path) -> tuple[Snapshot, str]:
    """Load a snapshot and its sha256; anything damaged or foreign is an InputError."""
    snapshot, raw = read_snapshot_bytes(path)
    return snapshot, hashlib.sha256(raw).hexdigest()


def read_snapshot_bytes(path: Path) -> tuple[Snapshot, bytes]:
    """Load a snapshot and keep its exact bytes, for a run folder that must copy it as is.

    Everything about the file is checked before any stage sees it (see `check_shape`): a
    crafted or damaged file is one InputError naming the file and the field, never a crash.
    """
    raw = _read_bounded(path)
    try:
        text = _decompress_bounded(raw, path).decode("utf-8")
        if _ESCAPED_SURROGATE.search(text) is None:
            data = json.loads(text)
        else:  # escapes of surrogates: legal only in pairs, which JSON joins into one character
            data = json.loads(text)
            _refuse_lone_surrogates(data, path)
    except RecursionError:
        raise InputError(
            f"{path}: not an ovh-license-audit snapshot (nested deeper than any API answer)"
        ) from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable snapshot (corrupted gzip/JSON: {exc})") from exc
    check_shape(data, path)
    try:
        snapshot = Snapshot.from_json(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not an ovh-license-audit snapshot ({exc})") from exc
    check_taken_at(snapshot.meta.taken_at, path)
    check_time_zone(snapshot.meta.taken_at, path)
    check_unique_ids(snapshot, path)
    return snapshot, raw


# The most a snapshot may hold once decompressed: about 500,000 VMs. A gzip bomb (a few MB
# expanding to gigabytes) stops here, before it is parsed.
MAX_SNAPSHOT_BYTES = 512 * 1024 * 1024
# API objects nest a few levels; anything deeper is crafted (and would exhaust the stack).
MAX_DEPTH = 32
_CHUNK = 1 << 20
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _read_bounded(path: Path) -> bytes:
    """The file's bytes; a FIFO or device is refused (it could block or never end)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path}: cannot read snapshot: not a regular file")
        if info.st_size > MAX_SNAPSHOT_BYTES:
            raise _too_large(path)
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read snapshot: {exc.strerror or exc}") from exc


def _too_large(path: Path) -> InputError:
    return InputError(
        f"{path}: larger than {MAX_SNAPSHOT_BYTES // (1024 * 1024)} MB once decompressed, a "
        "snapshot's limit (about 500,000 VMs); not a snapshot written by ovh-license-audit?"
    )


def _decompress_bounded(raw: bytes, path: Path) -> bytes:
    """gunzip, never more than MAX_SNAPSHOT_BYTES of output."""
    chunks: list[bytes] = []
    total = 0
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
        while chunk := stream.read(min(_CHUNK, MAX_SNAPSHOT_BYTES + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_SNAPSHOT_BYTES:
                raise _too_large(path)
    return b"".join(chunks)


def _refuse_lone_surrogates(data: Any, path: Path) -> None:
    """A lone surrogate (`"\\ud800"`) cannot be written to any UTF-8 file or database."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, where = stack.pop()
        items: Any = ()
        if isinstance(value, dict):
            items = ((f"{where}.{key}" if where else str(key), item) for key, item in value.items())
            for key in value:
                _check_text(key, f"{where}: a key", path)
        elif isinstance(value, list):
            items = ((f"{where}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, where, path)
        stack.extend((item, name) for name, item in items)


def _check_text(value: str, where: str, path: Path) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])
        raise InputError(
            f"{path}: field {where or 'the document'}: a lone surrogate (\\u{code:04x}), "
            "which no text file can hold"
        ) from None


def _too_deep(data: Any) -> bool:
    """Whether containers nest deeper than MAX_DEPTH (level by level: JSON gives plain
    dicts and lists, and a 100,000-VM snapshot is walked in a fraction of a second)."""
    level = [data]
    for _ in range(MAX_DEPTH):
        deeper: list[Any] = []
        for value in level:
            children = value.values() if type(value) is dict else value
            deeper += [child for child in children if type(child) is dict or type(child) is list]
        if not deeper:
            return False
        level = deeper
    return True


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in (
        (bool, "a boolean"),
        (dict, "an object"),
        (list, "a list"),
        (str, "a string"),
        (int, "an integer"),
    ):
        if isinstance(value, kind):
            return name
    return "a number"


def _expect(value: Any, kinds: tuple[type, ...], where: str, path: Path, what: str) -> Any:
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise InputError(f"{path}: field {where}: expected {what}, got {_kind(value)}")
    return value


def _objects(value: Any, where: str, path: Path, nullable: bool = False) -> list[Any]:
    if value is None and nullable:
        return []
    _expect(value, (list,), where, path, "a list of objects" + (" or null" if nullable else ""))
    for index, item in enumerate(value):
        _expect(item, (dict,), f"{where}[{index}]", path, "an object")
    return list(value)


_META_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "taken_at": ((str,), "a string"),
    "endpoint": ((str,), "a string"),
    "tool_version": ((str,), "a string"),
    "listing": ((str,), "a string"),
    "duration_s": ((int, float), "a number"),
    "max_rps": ((int, float), "a number"),
    "rate_reached": ((int, float), "a number"),
    "rate_peak": ((int, float), "a number"),
    "calls": ((int,), "an integer"),
    "retries": ((int,), "an integer"),
    "workers": ((int,), "an integer"),
    "throttled": ((int,), "an integer"),
}


def check_shape(data: Any, path: Path) -> None:
    """Every container a stage walks has the type the stage expects, nothing nests deeper
    than MAX_DEPTH: a VM, a datacenter's details or a vmLicensed listing given as a string is
    an InputError naming the field, not an AttributeError three stages later."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return  # Snapshot.from_json says what it is not
    if _too_deep(data):
        raise InputError(
            f"{path}: not an ovh-license-audit snapshot (nested deeper than "
            f"{MAX_DEPTH} levels, deeper than any API answer)"
        )
    run = _expect(data.get("run"), (dict,), "run", path, "an object")
    for key, (kinds, what) in _META_FIELDS.items():
        if key in run:
            _expect(run[key], kinds, f"run.{key}", path, what)
    credential = run.get("credential")
    if credential is not None:
        _expect(credential, (dict,), "run.credential", path, "an object")
        _objects(credential.get("rules", []), "run.credential.rules", path)
    coverage = _expect(data.get("coverage"), (dict,), "coverage", path, "an object")
    _objects(coverage.get("failures"), "coverage.failures", path)
    for s_index, service in enumerate(_objects(data.get("services"), "services", path)):
        where = f"services[{s_index}]"
        _expect(service.get("serviceName"), (str,), f"{where}.serviceName", path, "a string")
        if service.get("details") is not None:
            _expect(service["details"], (dict,), f"{where}.details", path, "an object or null")
        datacenters = _objects(service.get("datacenters"), f"{where}.datacenters", path)
        for d_index, dc in enumerate(datacenters):
            here = f"{where}.datacenters[{d_index}]"
            _expect(dc.get("datacenterId"), (int,), f"{here}.datacenterId", path, "an integer")
            if dc.get("details") is not None:
                _expect(dc["details"], (dict,), f"{here}.details", path, "an object or null")
            ids = _expect(dc.get("vmIds"), (list,), f"{here}.vmIds", path, "a list of integers")
            for index, vm_id in enumerate(ids):
                _expect(vm_id, (int,), f"{here}.vmIds[{index}]", path, "an integer")
            for v_index, vm in enumerate(_objects(dc.get("vms"), f"{here}.vms", path)):
                if "vmId" in vm:
                    _expect(vm["vmId"], (int,), f"{here}.vms[{v_index}].vmId", path, "an integer")
            _objects(dc.get("vmLicensed"), f"{here}.vmLicensed", path, nullable=True)


# The years a snapshot can have been taken in: the reports' files (a zip's dates stop at
# 2107) and the periods (from 2000) hold no other.
TAKEN_YEARS = range(2000, 2100)


def check_taken_at(value: object, path: Path) -> None:
    """Periods, exception expiry and history all count from `run.taken_at`: it must be a date."""
    moment = parse_utc(value)
    if moment is None:
        raise InputError(
            f"{path}: field run.taken_at: {value!r} is not an ISO 8601 date and time "
            "(e.g. 2026-11-30T06:00:00Z)"
        )
    if moment.year not in TAKEN_YEARS:
        raise InputError(
            f"{path}: field run.taken_at: {value!r} is not a plausible time for a snapshot "
            f"(a year from {TAKEN_YEARS.start} to {TAKEN_YEARS.stop - 1})"
        )


def check_time_zone(taken_at: str, path: Path) -> None:
    """A snapshot's day is its `taken_at` in UTC: a time without a zone would land on the day
    of whatever zone reads it."""
    if datetime.fromisoformat(taken_at.strip().replace("Z", "+00:00")).tzinfo is None:
        raise InputError(
            f"{path}: field run.taken_at: {taken_at!r} has no time zone; write it in UTC "
            "(e.g. 2026-11-30T06:00:00Z) or with its offset (2026-11-30T07:00:00+01:00)"
        )


def check_unique_ids(snapshot: Snapshot, path: Path) -> None:
    """Each service, datacenter and VM once: two objects of one id would give the findings
    and the plan one of them and the history the other."""
    services: set[str] = set()
    for s_index, service in enumerate(snapshot.services):
        where = f"services[{s_index}]"
        if service.service_name in services:
            raise InputError(f"{path}: {where}: service {service.service_name} appears twice")
        services.add(service.service_name)
        datacenters: set[int] = set()
        for d_index, dc in enumerate(service.datacenters):
            here = f"{where}.datacenters[{d_index}]"
            if dc.datacenter_id in datacenters:
                raise InputError(
                    f"{path}: {here}: datacenter {dc.datacenter_id} of {service.service_name} "
                    "appears twice"
                )
            datacenters.add(dc.datacenter_id)
            vms: set[int | str] = set()
            for v_index, vm in enumerate(dc.vms):
                vm_id = vm.get("vmId") if isinstance(vm, dict) else None
                if not isinstance(vm_id, int | str):
                    continue
                if vm_id in vms:
                    raise InputError(
                        f"{path}: {here}.vms[{v_index}]: vmId {vm_id} appears twice in "
                        f"{service.service_name} datacenter {dc.datacenter_id}; a snapshot "
                        "holds each VM once"
                    )
                vms.add(vm_id)
