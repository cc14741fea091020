"""The simulated OVHcloud API v1 (dedicatedCloud routes), independent of the HTTP plumbing.

`Api.handle` turns one request into one response the way the real API does: signature check,
rights per consumer key, rate limit, faults, then the route. All state changes happen under
one lock, so concurrent clients see a consistent fleet.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import random
import re
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from audit.simulator.billing import (
    CATEGORY,
    BillingOptions,
    SimulatedBill,
    Usage,
    bill_date,
    bill_id,
    bill_month,
    billed_months,
    billed_now,
    issue_bill,
    order_id,
)
from audit.simulator.fleet import Datacenter, Fleet, Service, Vm
from audit.simulator.licences import LICENCE_VALUES, SETTABLE_LICENSES, licence_fits_guest

DEFAULT_APPLICATION_KEY = "sim-app-key"
DEFAULT_APPLICATION_SECRET = "sim-app-secret"  # noqa: S105 (documented simulator default)
READONLY_CONSUMER_KEY = "sim-ck-readonly"
REMEDIATE_CONSUMER_KEY = "sim-ck-remediate"
BILLING_CONSUMER_KEY = "sim-ck-billing"  # the read-only key's rights, and the bills

API_PREFIX = "/1.0"
PAGINATION_MODE = "CachedObjectList-Pages"  # the Control Panel's listing of full objects

# Type names of the published schema, as the API's 400 answers name them.
_KMS_LICENSE = "dedicatedCloud.spla.KmsLicenseEnum"
_KMS_LICENSE_INCLUDING_LEGACY = "dedicatedCloud.spla.KmsLicenseIncludingLegacyEnum"
_TASK_STATE_ENUM = "dedicatedCloud.TaskStateEnum"
_BILL_CATEGORY_ENUM = "billing.CategoryEnum"
#: `billing.CategoryEnum`; every simulated bill is an `autorenew` one.
_BILL_CATEGORIES = (
    "autorenew",
    "earlyrenewal",
    "purchase",
    "purchase-cloud",
    "purchase-servers",
    "purchase-telecom",
    "purchase-web",
)
#: `dedicatedCloud.TaskStateEnum`; the simulated tasks only go todo -> doing -> done.
_TASK_STATES = (
    "canceled",
    "doing",
    "done",
    "error",
    "fixing",
    "toCancel",
    "toCreate",
    "todo",
    "unknown",
    "waitingForChilds",
    "waitingTodo",
)


AUTH_VALIDATE = "/auth/sim-validate"  # the simulator's stand-in for the owner's login page
_GET_RULES = (("GET", "/dedicatedCloud"), ("GET", "/dedicatedCloud/*"))
_POST_RULES = (
    ("POST", "/dedicatedCloud/*/datacenter/*/vm/*/setLicense"),
    ("POST", "/dedicatedCloud/*/datacenter/*/vm/*/removeLicense"),
)
_BILLING_RULES = (("GET", "/me/bill"), ("GET", "/me/bill/*"))


def rules_for_methods(methods: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """The access rules of a configured key: the audit's GETs, the licence POSTs."""
    rules: list[tuple[str, str]] = []
    for method in sorted(methods):
        if method == "GET":
            rules += _GET_RULES
        elif method == "POST":
            rules += _POST_RULES
        else:
            rules.append((method, "/dedicatedCloud/*"))
    return tuple(rules)


def _rule_allows(rule: tuple[str, str], method: str, path: str) -> bool:
    """A rule's `*` matches any text, slashes included, as the API's patterns do."""
    pattern = ".*".join(re.escape(part) for part in rule[1].split("*"))
    return rule[0] == method and re.fullmatch(pattern, path) is not None


@dataclass
class _Key:
    """A consumer key the simulator knows: its rules and where it stands."""

    credential_id: int
    rules: tuple[tuple[str, str], ...]
    status: str
    creation: float
    expiration: float | None
    token: str = ""
    last_use: float | None = None


def default_consumer_keys() -> Mapping[str, frozenset[str]]:
    """The documented keys: one that may only read, one that may also POST, and one that
    may read and read the bills (`billing_keys`)."""
    return MappingProxyType(
        {
            READONLY_CONSUMER_KEY: frozenset({"GET"}),
            REMEDIATE_CONSUMER_KEY: frozenset({"GET", "POST"}),
            BILLING_CONSUMER_KEY: frozenset({"GET"}),
        }
    )


@dataclass(frozen=True)
class SimulatorConfig:
    """Where the simulator listens, its credentials and how it misbehaves (docs/DESIGN.md).

    `rate_limit` is requests per second per consumer key; `fault_rate` the fraction of
    authenticated requests that answer 500 or 503 (drawn per path and per try from `seed`, so
    the same requests fault the same way whatever order concurrent workers send them in);
    `task_seconds` how long a licence change takes to reach `done`. The keys in
    `billing_keys` may also GET /me/bill and /me/bill/*; `billing` shapes the bills.
    """

    host: str = "127.0.0.1"
    port: int = 0
    latency_ms: float = 0.0
    rate_limit: float | None = None
    fault_rate: float = 0.0
    seed: int = 0
    task_seconds: float = 0.2
    timestamp_tolerance_s: int = 300
    application_key: str = DEFAULT_APPLICATION_KEY
    application_secret: str = DEFAULT_APPLICATION_SECRET
    consumer_keys: Mapping[str, frozenset[str]] = field(default_factory=default_consumer_keys)
    key_validity_days: float | None = None  # the configured keys expire this long after start
    billing_keys: frozenset[str] = frozenset({BILLING_CONSUMER_KEY})
    billing: BillingOptions = field(default_factory=BillingOptions)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError("rate_limit must be > 0 requests per second")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        if self.task_seconds < 0:
            raise ValueError("task_seconds must be >= 0")


@dataclass(frozen=True)
class Request:
    """One HTTP request as the server received it; `target` is the request line's path+query."""

    method: str
    target: str
    host: str
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class Response:
    """A JSON response; `headers` are extra headers beside Content-Type and Content-Length."""

    status: int
    body: Any
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SimulatorStats:
    """Counters since start, for tests and benchmarks to check what the server saw."""

    requests: int
    by_status: Mapping[int, int]
    rate_limited: int
    faults: int


class ApiError(Exception):
    """An OVH-style error answer; raised anywhere in handling, rendered once."""

    def __init__(
        self,
        status: int,
        message: str,
        error_code: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code
        self.headers = headers

    def response(self) -> Response:
        phrase = HTTPStatus(self.status).phrase
        side = "Client" if self.status < 500 else "Server"
        body = {
            "message": self.message,
            "errorCode": self.error_code or phrase.upper().replace(" ", "_").replace("-", "_"),
            "httpCode": f"{self.status} {phrase}",
            "class": f"{side}::{phrase.replace(' ', '').replace('-', '')}",
        }
        return Response(self.status, body, self.headers)


def _not_found(what: str, value: object) -> ApiError:
    return ApiError(404, f"The requested object ({what} = {value}) does not exist")


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class _Task:
    """A licence change in flight; its state is derived from the clock, not from a worker."""

    task_id: int
    name: str
    service_name: str
    datacenter_id: int
    vm_id: int
    license: str | None
    created: float
    due: float


class _TokenBucket:
    """Requests per second for one consumer key, with one second's worth of burst."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._last = time.monotonic()

    def take(self) -> float:
        """Take a token; return 0 on success, else the seconds until one is available."""
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self._rate


@dataclass(frozen=True)
class _Call:
    """What a route handler gets: the path's named groups, the query, the body, the time."""

    match: re.Match[str]
    query: Mapping[str, list[str]]
    body: bytes
    now: float
    headers: Mapping[str, str] = field(default_factory=dict)


class Api:
    """Routes, credentials, throttling, faults and tasks over one `Fleet`."""

    def __init__(self, fleet: Fleet, config: SimulatorConfig) -> None:
        self._fleet = fleet
        self._config = config
        self._lock = threading.Lock()
        self._faults = {fault.path: fault.status for fault in fleet.faults}
        self._tries: dict[str, int] = {}
        self._buckets: dict[str, _TokenBucket] = {}
        self._tasks: dict[int, _Task] = {}
        self._pending: deque[_Task] = deque()
        self._done: set[int] = set()
        self._next_task_id = 48_201_001
        self._bills: dict[str, SimulatedBill] = {}
        self._usage: dict[tuple[int, int], set[Usage]] = {}  # per usage month
        self._requests = 0
        self._by_status: Counter[int] = Counter()
        self._rate_limited = 0
        self._fault_count = 0
        started = time.time()
        validity = config.key_validity_days
        self._keys: dict[str, _Key] = {
            key: _Key(
                credential_id=index + 1,
                rules=rules_for_methods(methods)
                + (_BILLING_RULES if key in config.billing_keys else ()),
                status="validated",
                creation=started,
                expiration=None if validity is None else started + validity * 86400,
            )
            for index, (key, methods) in enumerate(config.consumer_keys.items())
        }

    @property
    def fleet(self) -> Fleet:
        """The fleet with every task that is due applied."""
        with self._lock:
            self._settle(time.time())
        return self._fleet

    def issue_bill(self, year: int, month: int) -> str:
        """Issue a usage month's bill now, from its recorded usage or the fleet as it is (a
        bill is otherwise issued when first read); returns its id. An issued bill never
        changes."""
        with self._lock:
            self._settle(time.time())
            return self._issued(year, month).bill_id

    def record_usage(self, year: int, month: int) -> None:
        """Record the VMs billed now as used in a month (call once per simulated day): the
        month's bill then invoices every VM recorded, as OVHcloud's rule bills a VM powered
        on on any day of the month."""
        with self._lock:
            self._settle(time.time())
            self._usage.setdefault((year, month), set()).update(billed_now(self._fleet))

    @property
    def stats(self) -> SimulatorStats:
        with self._lock:
            return SimulatorStats(
                requests=self._requests,
                by_status=MappingProxyType(dict(self._by_status)),
                rate_limited=self._rate_limited,
                faults=self._fault_count,
            )

    def handle(self, request: Request) -> Response:
        """Answer one request; never raises for anything the client sent."""
        try:
            response = self._handle(request)
        except ApiError as error:
            response = error.response()
        with self._lock:
            self._requests += 1
            self._by_status[response.status] += 1
        return response

    def _handle(self, request: Request) -> Response:
        now = time.time()
        parts = urlsplit(request.target)
        if not parts.path.startswith(API_PREFIX + "/"):
            raise ApiError(404, "Got an invalid (or empty) URL")
        path = parts.path[len(API_PREFIX) :]
        if request.method == "GET" and path == "/auth/time":
            return Response(200, int(now))
        if request.method == "POST" and path == "/auth/credential":
            return self._new_credential(request, now)
        if request.method == "GET" and path == AUTH_VALIDATE:
            return self._validate(parse_qs(parts.query).get("credentialToken", [""])[-1])
        consumer_key = self._authenticate(request, now)
        with self._lock:
            key = self._keys[consumer_key]
            key.last_use = now
        if path == "/auth/currentCredential" and request.method == "GET":
            return Response(200, self._credential_object(key))
        granted = any(_rule_allows(rule, request.method, path) for rule in key.rules)
        if not granted and any(m == request.method and p.fullmatch(path) for m, p, _ in _ROUTES):
            raise ApiError(403, "This call has not been granted", "NOT_GRANTED_CALL")
        self._throttle(consumer_key)
        self._inject_fault(path)
        query = parse_qs(parts.query, keep_blank_values=True)
        for method, pattern, route in _ROUTES:
            match = pattern.fullmatch(path)
            if match and method == request.method:
                call = _Call(match, query, request.body, now, request.headers)
                with self._lock:
                    self._settle(now)
                    answer = route(self, call)
                    return answer if isinstance(answer, Response) else Response(200, answer)
        raise ApiError(404, "Got an invalid (or empty) URL")

    def _authenticate(self, request: Request, now: float) -> str:
        """Check the `ovh` signature exactly as the client computes it; return the consumer key."""
        headers = request.headers
        if headers.get("x-ovh-application") != self._config.application_key:
            raise ApiError(403, "This application key is invalid", "INVALID_KEY")
        consumer_key = headers.get("x-ovh-consumer", "")
        with self._lock:
            key = self._keys.get(consumer_key)
        if key is None:
            raise ApiError(403, "This credential does not exist", "INVALID_CREDENTIAL")
        if key.status != "validated" or (key.expiration is not None and key.expiration < now):
            raise ApiError(403, "This credential is not valid", "INVALID_CREDENTIAL")
        timestamp = headers.get("x-ovh-timestamp", "")
        if (
            not timestamp.isdigit()
            or abs(int(timestamp) - now) > self._config.timestamp_tolerance_s
        ):
            raise ApiError(403, "Invalid timestamp", "INVALID_CREDENTIAL")
        full_url = f"http://{request.host}{request.target}"
        signed = "+".join(
            (
                self._config.application_secret,
                consumer_key,
                request.method,
                full_url,
                request.body.decode("utf-8", errors="replace"),
                timestamp,
            )
        )
        expected = "$1$" + hashlib.sha1(signed.encode("utf-8")).hexdigest()  # noqa: S324
        if not hmac.compare_digest(expected, headers.get("x-ovh-signature", "")):
            raise ApiError(403, "Invalid signature", "INVALID_CREDENTIAL")
        return consumer_key

    # --- credentials (`auth.Credential`) -------------------------------------------------

    def _new_credential(self, request: Request, now: float) -> Response:
        """POST /auth/credential: needs only the application key, as on the real API."""
        if request.headers.get("x-ovh-application") != self._config.application_key:
            raise ApiError(403, "This application key is invalid", "INVALID_KEY")
        params = _json_object(request.body)
        rules = params.get("accessRules")
        if not isinstance(rules, list) or not all(
            isinstance(rule, dict)
            and rule.get("method") in ("GET", "POST", "PUT", "DELETE")
            and isinstance(rule.get("path"), str)
            and rule["path"].startswith("/")
            for rule in rules
        ):
            raise ApiError(400, "[accessRules] Given data is not valid for type auth.AccessRule[]")
        token = secrets.token_urlsafe(24)
        consumer_key = "sim-ck-" + secrets.token_hex(16)
        with self._lock:
            self._keys[consumer_key] = _Key(
                credential_id=len(self._keys) + 1,
                rules=tuple((rule["method"], rule["path"]) for rule in rules),
                status="pendingValidation",
                creation=now,
                expiration=None,
                token=token,
            )
        url = f"http://{request.host}{API_PREFIX}{AUTH_VALIDATE}?credentialToken={token}"
        return Response(
            200,
            {"consumerKey": consumer_key, "state": "pendingValidation", "validationUrl": url},
        )

    def _validate(self, token: str) -> Response:
        """Opening the validation URL validates the key (the owner's login, simulated)."""
        with self._lock:
            for key in self._keys.values():
                if token and key.token == token and key.status == "pendingValidation":
                    key.status = "validated"
                    return Response(200, {"state": "validated"})
        raise ApiError(404, "This credential token does not exist or was already used")

    def _credential_object(self, key: _Key) -> dict[str, Any]:
        return {
            "credentialId": key.credential_id,
            "applicationId": 1,
            "creation": _iso(key.creation),
            "expiration": None if key.expiration is None else _iso(key.expiration),
            "lastUse": None if key.last_use is None else _iso(key.last_use),
            "ovhSupport": False,
            "allowedIPs": None,
            "rules": [{"method": method, "path": path} for method, path in key.rules],
            "status": key.status,
        }

    def _throttle(self, consumer_key: str) -> None:
        rate = self._config.rate_limit
        if rate is None:
            return
        with self._lock:
            bucket = self._buckets.setdefault(consumer_key, _TokenBucket(rate))
            wait = bucket.take()
            if wait:
                self._rate_limited += 1
        if wait:
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429,
                f"Too many requests, retry in {seconds} s",
                "QUERY_LIMIT_REACHED",
                (("Retry-After", str(seconds)),),
            )

    def _inject_fault(self, path: str) -> None:
        with self._lock:
            status = self._faults.get(path)
            tries = self._tries[path] = self._tries.get(path, 0) + 1
            if status is None and self._config.fault_rate:
                draw = random.Random(f"{self._config.seed}:{path}:{tries}")
                if draw.random() < self._config.fault_rate:
                    status = draw.choice((500, 503))
            if status is not None:
                self._fault_count += 1
        if status is not None:
            raise ApiError(status, f"Simulated fault on {path}")

    # --- state ---------------------------------------------------------------------------

    def _settle(self, now: float) -> None:
        """Apply every task that is due (caller holds the lock)."""
        while self._pending and self._pending[0].due <= now:
            task = self._pending.popleft()
            datacenter = self._fleet.services[task.service_name].datacenters[task.datacenter_id]
            datacenter.set_license(task.vm_id, task.license)
            self._done.add(task.task_id)

    def _service(self, name: str) -> Service:
        service = self._fleet.services.get(unquote(name))
        if service is None:
            raise _not_found("serviceName", unquote(name))
        return service

    def _datacenter(self, match: re.Match[str]) -> tuple[Service, Datacenter]:
        service = self._service(match["serviceName"])
        dc_id = _long(match["datacenterId"], "datacenterId")
        datacenter = service.datacenters.get(dc_id)
        if datacenter is None:
            raise _not_found("datacenterId", dc_id)
        return service, datacenter

    def _vm(self, match: re.Match[str]) -> tuple[Service, Datacenter, Vm]:
        service, datacenter = self._datacenter(match)
        vm_id = _long(match["vmId"], "vmId")
        vm = datacenter.vms.get(vm_id)
        if vm is None:
            raise _not_found("vmId", vm_id)
        return service, datacenter, vm

    def _task_object(self, task: _Task, now: float) -> dict[str, Any]:
        duration = self._config.task_seconds
        fraction = (now - task.created) / duration if duration else 1.0
        if task.task_id in self._done:
            state, progress, end = "done", 100, _iso(task.due)
        elif fraction < 1 / 3:
            state, progress, end = "todo", 0, None
        else:
            state, progress, end = "doing", min(99, int(100 * fraction)), None
        action = f"Set license {task.license}" if task.license else "Remove license"
        return {
            "taskId": task.task_id,
            "name": task.name,
            "type": "generic",
            "state": state,
            "progress": progress,
            "description": f"{action} on VM {task.vm_id}",
            "datacenterId": task.datacenter_id,
            "executionDate": _iso(task.created),
            "lastModificationDate": _iso(min(now, task.due)),
            "endDate": end,
            "createdBy": "api",
            "createdFrom": "api",
            "hostId": None,
            "filerId": None,
            "network": None,
            "networkAccessId": None,
            "orderId": None,
            "parentTaskId": None,
            "userId": None,
            "vlanId": None,
            "maintenanceDateFrom": None,
            "maintenanceDateTo": None,
        }

    def _new_task(
        self,
        now: float,
        name: str,
        service: Service,
        datacenter: Datacenter,
        vm: Vm,
        license: str | None,
    ) -> _Task:
        """Queue a licence change (caller holds the lock); it lands `task_seconds` later."""
        task = _Task(
            task_id=self._next_task_id,
            name=name,
            service_name=service.service_name,
            datacenter_id=datacenter.datacenter_id,
            vm_id=vm.vm_id,
            license=license,
            created=now,
            due=now + self._config.task_seconds,
        )
        self._next_task_id += 1
        self._tasks[task.task_id] = task
        self._pending.append(task)
        return task

    # --- routes (each runs under the lock, after settling due tasks) ----------------------

    def _services(self, call: _Call) -> Any:
        return list(self._fleet.services)

    def _service_object(self, call: _Call) -> Any:
        return self._service(call.match["serviceName"]).api_object()

    def _datacenter_ids(self, call: _Call) -> Any:
        return list(self._service(call.match["serviceName"]).datacenters)

    def _datacenter_object(self, call: _Call) -> Any:
        service, datacenter = self._datacenter(call.match)
        return datacenter.api_object(service.service_name)

    def _vm_ids(self, call: _Call) -> Any:
        vms = self._datacenter(call.match)[1].vms
        if call.headers.get("x-pagination-mode") == PAGINATION_MODE:
            return _vm_page(call, list(vms.values()))
        return list(vms)

    def _vm_object(self, call: _Call) -> Any:
        return self._vm(call.match)[2].api_object()

    def _vm_licensed(self, call: _Call) -> Any:
        entries = self._datacenter(call.match)[1].licensed_summaries()
        wanted = _enum_query(call, "kmsLicense", LICENCE_VALUES, _KMS_LICENSE_INCLUDING_LEGACY)
        if wanted is not None:
            entries = [entry for entry in entries if entry.get("license") == wanted]
        return entries

    def _set_license(self, call: _Call) -> Any:
        service, datacenter, vm = self._vm(call.match)
        params = _json_object(call.body)
        missing = [k for k in ("kmsLicense", "bypassGuestOsFamilyCheck") if k not in params]
        if missing:
            raise ApiError(400, f"Missing parameter(s): {', '.join(missing)}")
        licence, bypass = params["kmsLicense"], params["bypassGuestOsFamilyCheck"]
        if licence not in SETTABLE_LICENSES:
            raise ApiError(
                400,
                f"[kmsLicense] Given data ({licence}) does not belong to the "
                f"{_KMS_LICENSE} enumeration",
            )
        if not isinstance(bypass, bool):
            raise ApiError(
                400,
                f"[bypassGuestOsFamilyCheck] Given data ({bypass}) is not valid for type boolean",
            )
        if not bypass and not licence_fits_guest(licence, vm.guest_os_family):
            raise ApiError(
                400,
                f"The license {licence} does not fit the guest OS family "
                f"{vm.guest_os_family} of VM {vm.vm_id}; "
                "set bypassGuestOsFamilyCheck to force it",
            )
        task = self._new_task(call.now, "setLicense", service, datacenter, vm, licence)
        return self._task_object(task, task.created)

    def _remove_license(self, call: _Call) -> Any:
        service, datacenter, vm = self._vm(call.match)
        task = self._new_task(call.now, "removeLicense", service, datacenter, vm, None)
        return self._task_object(task, task.created)

    def _task_scope(self, call: _Call) -> tuple[str, int | None]:
        """The service and, on a datacenter's task route, the datacenter a task must be of."""
        if "datacenterId" in call.match.groupdict():
            service, datacenter = self._datacenter(call.match)
            return service.service_name, datacenter.datacenter_id
        return self._service(call.match["serviceName"]).service_name, None

    def _task_ids(self, call: _Call) -> list[int]:
        """The task list, filtered as the schema allows: `name`, `state`, `executionDate`.

        `executionDate` (service level only) keeps the tasks that started at or after it.
        """
        service_name, dc_id = self._task_scope(call)
        name = _last(call, "name")
        state = _enum_query(call, "state", _TASK_STATES, _TASK_STATE_ENUM)
        since = _datetime_query(call, "executionDate") if dc_id is None else None
        ids = []
        for task in self._tasks.values():
            if task.service_name != service_name or dc_id not in (None, task.datacenter_id):
                continue
            if name is not None and task.name != name:
                continue
            if state is not None and self._task_object(task, call.now)["state"] != state:
                continue
            if since is not None and task.created < since:
                continue
            ids.append(task.task_id)
        return ids

    def _task(self, call: _Call) -> Any:
        service_name, dc_id = self._task_scope(call)
        task_id = _long(call.match["taskId"], "taskId")
        task = self._tasks.get(task_id)
        if (
            task is None
            or task.service_name != service_name
            or (dc_id is not None and task.datacenter_id != dc_id)
        ):
            raise _not_found("taskId", task_id)
        return self._task_object(task, call.now)

    # --- bills (`/me/bill`): one per usage month, issued when first read --------------------

    def _issued(self, year: int, month: int) -> SimulatedBill:
        """The month's bill, issued from the fleet on first use (caller holds the lock)."""
        identifier = bill_id(year, month)
        bill = self._bills.get(identifier)
        if bill is None:
            usage = self._usage.get((year, month), set())
            bill = issue_bill(self._fleet, year, month, self._config.billing, usage)
            self._bills[identifier] = bill
        return bill

    def _months(self, now: float) -> list[tuple[int, int]]:
        today = datetime.fromtimestamp(now, UTC).date()
        return billed_months(today, self._config.billing.months)

    def _bill(self, call: _Call) -> SimulatedBill:
        identifier = unquote(call.match["billId"])
        month = bill_month(identifier)
        if month is None or month not in self._months(call.now):
            raise _not_found("billId", identifier)
        return self._issued(*month)

    def _bill_ids(self, call: _Call) -> list[str]:
        """The bill list, filtered as the schema allows: `date.from` and `date.to` (bills
        dated within, both included), `category` and `orderId`."""
        since = _datetime_query(call, "date.from")
        until = _datetime_query(call, "date.to")
        category = _enum_query(call, "category", _BILL_CATEGORIES, _BILL_CATEGORY_ENUM)
        order = _last(call, "orderId")
        wanted_order = None if order is None else _long(order, "orderId")
        ids = []
        for year, month in self._months(call.now):
            issued = datetime.fromisoformat(bill_date(year, month)).timestamp()
            if (since is not None and issued < since) or (until is not None and issued > until):
                continue
            if category not in (None, CATEGORY):
                continue
            if wanted_order not in (None, order_id(year, month)):
                continue
            ids.append(bill_id(year, month))
        return ids

    def _bill_object(self, call: _Call) -> Any:
        return self._bill(call).api_object()

    def _bill_detail_ids(self, call: _Call) -> Any:
        return [detail["billDetailId"] for detail in self._bill(call).details]

    def _bill_detail(self, call: _Call) -> Any:
        identifier = unquote(call.match["billDetailId"])
        detail = self._bill(call).detail(identifier)
        if detail is None:
            raise _not_found("billDetailId", identifier)
        return detail


def _vm_page(call: _Call, vms: list[Vm]) -> Response:
    """The Control Panel's listing: one page of full Vm objects, the total in a header.

    `X-Pagination-Number` counts from 1; a page past the end is empty.
    """
    size = _header_int(call, "x-pagination-size", 10)
    number = _header_int(call, "x-pagination-number", 1)
    if size < 1 or number < 1:
        raise ApiError(400, "Invalid pagination headers")
    page = vms[(number - 1) * size : number * size]
    headers = (
        ("X-Pagination-Elements", str(len(vms))),
        ("X-Pagination-Size", str(size)),
        ("X-Pagination-Number", str(number)),
    )
    return Response(200, [vm.api_object() for vm in page], headers)


def _header_int(call: _Call, name: str, default: int) -> int:
    text = call.headers.get(name)
    if text is None:
        return default
    if not text.strip().isdigit():
        raise ApiError(400, f"Invalid header {name}: {text}")
    return int(text)


def _long(text: str, name: str) -> int:
    if not re.fullmatch(r"-?\d+", text):
        raise ApiError(400, f"[{name}] Given data ({unquote(text)}) is not valid for type long")
    return int(text)


def _last(call: _Call, name: str) -> str | None:
    values = call.query.get(name)
    return values[-1] if values else None


def _enum_query(call: _Call, name: str, allowed: Collection[str], enum_name: str) -> str | None:
    """A query parameter typed by an enum: absent, or one of its values, else a 400."""
    value = _last(call, name)
    if value is not None and value not in allowed:
        raise ApiError(
            400, f"[{name}] Given data ({value}) does not belong to the {enum_name} enumeration"
        )
    return value


def _datetime_query(call: _Call, name: str) -> float | None:
    value = _last(call, name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        message = f"[{name}] Given data ({value}) is not valid for type datetime"
        raise ApiError(400, message) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise ApiError(400, "Invalid JSON received") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "Invalid JSON received: expected an object")
    return data


def _route(pattern: str) -> re.Pattern[str]:
    """`{sn}`-style placeholders become named path segments."""
    return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern))


_SN = "/dedicatedCloud/{serviceName}"
_DC = f"{_SN}/datacenter/{{datacenterId}}"
_VM = f"{_DC}/vm/{{vmId}}"

#: Every route served, as (method, path template of the published schema, handler).
ROUTES: tuple[tuple[str, str, Callable[[Api, _Call], Any]], ...] = (
    ("GET", "/dedicatedCloud", Api._services),
    ("GET", _SN, Api._service_object),
    ("GET", f"{_SN}/datacenter", Api._datacenter_ids),
    ("GET", _DC, Api._datacenter_object),
    ("GET", f"{_DC}/vm", Api._vm_ids),
    ("GET", _VM, Api._vm_object),
    ("GET", f"{_DC}/vmLicensed", Api._vm_licensed),
    ("POST", f"{_VM}/setLicense", Api._set_license),
    ("POST", f"{_VM}/removeLicense", Api._remove_license),
    ("GET", f"{_SN}/task", Api._task_ids),
    ("GET", f"{_SN}/task/{{taskId}}", Api._task),
    ("GET", f"{_DC}/task", Api._task_ids),
    ("GET", f"{_DC}/task/{{taskId}}", Api._task),
    ("GET", "/me/bill", Api._bill_ids),
    ("GET", "/me/bill/{billId}", Api._bill_object),
    ("GET", "/me/bill/{billId}/details", Api._bill_detail_ids),
    ("GET", "/me/bill/{billId}/details/{billDetailId}", Api._bill_detail),
)

_ROUTES = tuple((method, _route(path), handler) for method, path, handler in ROUTES)
