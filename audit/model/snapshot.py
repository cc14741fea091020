"""The snapshot: raw API objects plus run metadata and coverage, the file between stages.

Written by collect, read by evaluate and render. The content is sorted by id so that the
same fleet gives the same content however the calls were scheduled, retried or throttled.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from audit.support.errors import InputError
from audit.support.fsutil import atomic_write_bytes
from audit.support.jsontypes import JSONObject

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


def _aware(moment: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def credential_warnings(credential: CredentialInfo, taken_at: str) -> list[str]:
    """What a reader of the run must know about the key, one sentence each."""
    warnings: list[str] = []
    if not credential.known:
        return [f"the consumer key's rights could not be read ({credential.note or 'unknown'})"]
    if credential.may_write:
        methods = sorted({rule.method.upper() for rule in credential.rules} - {"GET"})
        warnings.append(
            f"the audit key may do more than read ({', '.join(methods)} allowed); "
            "an audit key needs GET only (ovh-license-audit auth request)"
        )
    expiration = _aware(credential.expiration) if credential.expiration else None
    taken = _aware(taken_at)
    if expiration is not None and taken is not None and expiration - taken <= EXPIRY_WARNING:
        days = (expiration - taken).days
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
    """Load a snapshot and keep its exact bytes, for a run folder that must copy it as is."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read snapshot: {exc.strerror or exc}") from exc
    try:
        data = json.loads(gzip.decompress(raw))
        snapshot = Snapshot.from_json(data)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable snapshot (corrupted gzip/JSON: {exc})") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not an ovh-license-audit snapshot ({exc})") from exc
    check_taken_at(snapshot.meta.taken_at, path)
    check_time_zone(snapshot.meta.taken_at, path)
    check_unique_ids(snapshot, path)
    return snapshot, raw


def check_taken_at(value: object, path: Path) -> None:
    """Periods, exception expiry and history all count from `run.taken_at`: it must be a date."""
    try:
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        if not isinstance(value, str):
            raise ValueError
    except ValueError:
        raise InputError(
            f"{path}: field run.taken_at: {value!r} is not an ISO 8601 date and time "
            "(e.g. 2026-11-30T06:00:00Z)"
        ) from None


def check_time_zone(taken_at: str, path: Path) -> None:
    """A snapshot's day is its `taken_at` in UTC: a time without a zone would land on the day
    of whatever zone reads it."""
    if datetime.fromisoformat(taken_at.replace("Z", "+00:00")).tzinfo is None:
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
