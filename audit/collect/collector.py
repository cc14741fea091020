"""Walks the dedicatedCloud tree with bounded concurrency and accounts for every object.

Each API call is one task on a thread pool; a task schedules its children as soon as it has
their ids, so VM fetches of one datacenter overlap with the listing of the next. Every call
goes through one shared rate limiter and a bounded retry loop. What cannot be read after
retries is recorded as a coverage failure and the walk goes on; a credential or permission
refusal stops the walk at once.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from audit import __version__
from audit.collect.api import ClientFactory, credential_error
from audit.collect.credential import read_credential, warn_about_credential
from audit.collect.paging import PAGE_SIZE, page_call, paged_vms_match
from audit.collect.progress import Progress
from audit.collect.retry import RetryPolicy, Verdict, classify
from audit.collect.throttle import AdaptiveLimiter, PacePolicy, PaceReport
from audit.config.settings import DEFAULT_MAX_RPS, DEFAULT_WORKERS
from audit.model.snapshot import (
    Coverage,
    DatacenterSnapshot,
    Failure,
    RunMeta,
    Scope,
    ServiceSnapshot,
    Snapshot,
)
from audit.support.errors import AuditError
from audit.support.jsontypes import JSONObject

if TYPE_CHECKING:
    import ovh


class Listing(StrEnum):
    """How a datacenter's VMs are read: one GET per VM, or pages of full objects."""

    PER_VM = "per-vm"
    PAGED = "paged"


@dataclass(frozen=True)
class CollectOptions:
    """Concurrency, pace and retry settings of one collection.

    `max_rps` is the ceiling of the adaptive rate (None: no client-side limit at all).
    """

    workers: int = DEFAULT_WORKERS
    max_rps: float | None = DEFAULT_MAX_RPS
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    progress: bool = False
    seed: int | None = None
    listing: Listing = Listing.PER_VM
    page_size: int = PAGE_SIZE
    deadline_s: float | None = None  # None: sized to the fleet and the pace (`deadline`)


# Without a deadline of its own, a collection has ten minutes for pauses and retries, plus
# each call it has found to make at the slowest pace it uses: one call a second (the adaptive
# rate's floor), or 1/max_rps when that is slower. A server answering 429 for ever with a
# huge Retry-After ends it then, with what was not read recorded as such (exit 3).
DEADLINE_BASE_S = 600.0


def deadline(options: CollectOptions, calls: int) -> float:
    """The collection's deadline in seconds, once it has found `calls` calls to make."""
    if options.deadline_s is not None:
        return options.deadline_s
    slowest = max(1.0, 1.0 / options.max_rps) if options.max_rps else 1.0
    return DEADLINE_BASE_S + calls * slowest


class _Unreadable(Exception):
    """A call that failed for good; its text goes into coverage."""


@dataclass
class _Datacenter:
    details: JSONObject | None = None
    vm_ids: list[int] | None = None
    vms: dict[int, JSONObject] = field(default_factory=dict)
    vm_licensed: list[JSONObject] | None = None


@dataclass
class _Service:
    details: JSONObject | None = None
    datacenter_ids: list[int] | None = None
    datacenters: dict[int, _Datacenter] = field(default_factory=dict)


def valid_unicode(value: Any) -> Any:
    """The API's JSON may carry lone surrogates (`"\\ud800"`), which no UTF-8 file can hold:
    they become U+FFFD here, at the boundary, so every later stage can write what it reads."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {valid_unicode(key): valid_unicode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [valid_unicode(item) for item in value]
    return value


def _id_list(value: Any, path: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) for item in value
    ):
        raise _Unreadable(f"unexpected response for {path}: expected a list of ids")
    return sorted(set(value))


def _object(value: Any, path: str) -> JSONObject:
    if not isinstance(value, dict):
        raise _Unreadable(f"unexpected response for {path}: expected an object")
    return value


def _objects(value: Any, path: str) -> list[JSONObject]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _Unreadable(f"unexpected response for {path}: expected a list of objects")
    return value


class _Walk:
    """The state of one collection: the pool, the results, the counters."""

    def __init__(
        self, factory: ClientFactory, options: CollectOptions, time_delta: int | None = None
    ) -> None:
        self._factory = factory
        self._time_delta = time_delta
        self._options = options
        self._started = time.monotonic()
        self._stop = threading.Event()  # set when the walk is over: every wait ends at once
        self._tasks = 0
        self.expired = False  # the deadline passed
        self._limiter = AdaptiveLimiter(
            PacePolicy(ceiling=options.max_rps), sleep=self._pause, stopped=self._over
        )
        self._rng = random.Random(options.seed)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._fatal: BaseException | None = None
        self._pool = ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="collect")
        self.calls = 0
        self.retries = 0
        self.services: dict[str, _Service] = {}
        self.failures: list[Failure] = []
        self.listing_fallbacks: list[str] = []
        self.progress = Progress(enabled=options.progress)

    # -- scheduling -------------------------------------------------------------------

    def submit(self, task: Callable[..., None], *args: Any) -> None:
        with self._lock:
            if self._fatal is not None:
                return
            self._pending += 1
            self._tasks += 1
        self._pool.submit(self._run, task, *args)

    def deadline_s(self) -> float:
        return deadline(self._options, self._tasks)

    def _over(self) -> bool:
        """Whether calls must stop: a fatal error, an interrupt, or the deadline passed."""
        if self._fatal is not None or self._stop.is_set():
            return True
        if time.monotonic() - self._started > self.deadline_s():
            self.expired = True
            self._stop.set()
            return True
        return False

    def _pause(self, seconds: float) -> None:
        """Sleep (a Retry-After, a backoff, the pace) until the deadline at most; an
        interrupt or the end of the walk wakes it at once."""
        left = self._started + self.deadline_s() - time.monotonic()
        self._stop.wait(max(0.0, min(seconds, left)))

    def _stopped_reason(self) -> str:
        if self.expired:
            return (
                f"the collection's deadline passed ({self.deadline_s():.0f} s; --deadline or "
                "deadline_s)"
            )
        return "collection aborted"

    def _run(self, task: Callable[..., None], *args: Any) -> None:
        try:
            task(*args)
        except BaseException as exc:  # a worker must never die silently
            with self._lock:
                if self._fatal is None:
                    self._fatal = exc
            self._stop.set()
        finally:
            with self._lock:
                self._pending -= 1
                if self._pending == 0 or self._fatal is not None:
                    self._idle.notify_all()

    def wait(self) -> None:
        try:
            with self._lock:
                while self._pending > 0 and self._fatal is None:
                    self._idle.wait()
                fatal = self._fatal
        except BaseException as interrupt:  # Ctrl-C, SIGTERM: the workers stop calling too
            with self._lock:
                self._fatal = interrupt
            self._stop.set()  # a worker pausing for a Retry-After stops now, not after it
            self._pool.shutdown(wait=False, cancel_futures=True)
            self.progress.close()
            raise
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.progress.close()
        if fatal is not None:
            raise fatal

    # -- one call ---------------------------------------------------------------------

    def _client(self) -> ovh.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._factory.new_client()
            if self._time_delta is not None:
                # The server's clock offset, as the first client measured it: no worker
                # spends its first paced slot on an extra GET /auth/time.
                client._time_delta = self._time_delta
            self._local.client = client
        return client

    def get(self, path: str) -> Any:
        """GET with pacing and bounded retries; raises _Unreadable when it gives up."""
        return self.call(path, lambda client: client.get(path))

    def call(self, path: str, request: Callable[[ovh.Client], Any]) -> Any:
        """One paced call with bounded retries; raises _Unreadable when it gives up."""
        policy = self._options.retry
        attempt = 0
        while True:
            if self._over():
                raise _Unreadable(self._stopped_reason())
            ticket = self._limiter.acquire()
            if self._over():
                raise _Unreadable(self._stopped_reason())
            with self._lock:
                self.calls += 1
            self.progress.update(calls=self.calls)
            started = time.monotonic()
            try:
                result = valid_unicode(request(self._client()))
            except Exception as exc:
                verdict = classify(exc)
                if verdict.status == 429:
                    self._limiter.on_throttled(ticket, verdict.retry_after)
                elif verdict.status is not None and verdict.status >= 500:
                    self._limiter.on_server_error(ticket)
                if verdict.verdict is Verdict.FATAL:
                    raise self.refused(exc, path) from None
                attempt += 1
                if verdict.verdict is Verdict.GIVE_UP or attempt > policy.max_retries:
                    suffix = (
                        "" if verdict.verdict is Verdict.GIVE_UP else f" (after {attempt} tries)"
                    )
                    raise _Unreadable(verdict.reason + suffix) from None
                with self._lock:
                    self.retries += 1
                    delay = policy.delay(attempt, verdict.retry_after, self._rng)
                if verdict.retry_after is not None:
                    self._limiter.pause(delay)
                else:
                    self._pause(delay)
            else:
                self._limiter.on_success(time.monotonic() - started)
                return result

    def refused(self, exc: Exception, path: str) -> AuditError:
        """The one-line error that stops the walk when the API refuses the key or a right."""
        return credential_error(exc, "GET", path)

    def fail(self, failure: Failure) -> None:
        with self._lock:
            self.failures.append(failure)

    # -- the tree ---------------------------------------------------------------------

    def list_services(self) -> None:
        path = "/dedicatedCloud"
        try:
            names = self.get(path)
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise _Unreadable(f"unexpected response for {path}: expected a list of names")
        except _Unreadable as exc:
            self.fail(Failure(Scope.SERVICES, path, str(exc)))
            return
        for name in sorted(set(names)):
            self.services[name] = _Service()
            self.submit(self.service_details, name)
            self.submit(self.list_datacenters, name)

    def service_details(self, name: str) -> None:
        path = f"/dedicatedCloud/{name}"
        try:
            self.services[name].details = _object(self.get(path), path)
        except _Unreadable as exc:
            self.fail(Failure(Scope.SERVICE, path, str(exc), service_name=name))

    def list_datacenters(self, name: str) -> None:
        path = f"/dedicatedCloud/{name}/datacenter"
        service = self.services[name]
        try:
            ids = _id_list(self.get(path), path)
        except _Unreadable as exc:
            self.fail(Failure(Scope.SERVICE, path, str(exc), service_name=name))
            return
        with self._lock:
            service.datacenters = {dc_id: _Datacenter() for dc_id in ids}
            service.datacenter_ids = ids
        for dc_id in ids:
            self.submit(self.datacenter_details, name, dc_id)
            self.submit(self.list_vms, name, dc_id)
            self.submit(self.vm_licensed, name, dc_id)

    def datacenter_details(self, name: str, dc_id: int) -> None:
        path = f"/dedicatedCloud/{name}/datacenter/{dc_id}"
        try:
            self.services[name].datacenters[dc_id].details = _object(self.get(path), path)
        except _Unreadable as exc:
            self.fail(Failure(Scope.DATACENTER, path, str(exc), name, dc_id))

    def list_vms(self, name: str, dc_id: int) -> None:
        path = f"/dedicatedCloud/{name}/datacenter/{dc_id}/vm"
        try:
            ids = _id_list(self.get(path), path)
        except _Unreadable as exc:
            self.fail(Failure(Scope.DATACENTER, path, str(exc), name, dc_id))
            return
        self.services[name].datacenters[dc_id].vm_ids = ids
        self.progress.update(vms_listed=len(ids))
        if self._options.listing is Listing.PAGED and ids and self.vm_pages(name, dc_id, ids):
            return
        for vm_id in ids:
            self.submit(self.vm, name, dc_id, vm_id)

    def vm_pages(self, name: str, dc_id: int, ids: list[int]) -> bool:
        """Read the datacenter's VMs as pages of full objects; False (noted) to fall back."""
        path = f"/dedicatedCloud/{name}/datacenter/{dc_id}/vm"
        size = self._options.page_size
        found: list[JSONObject] = []
        reason: str | None
        try:
            page, total = 1, None
            while total is None or (page - 1) * size < total:
                objects, total = self.call(path, page_call(path, page, size))
                found += valid_unicode(objects)
                page += 1
                if not objects:
                    break
        except _Unreadable as exc:
            reason = str(exc)
        else:
            reason = paged_vms_match(found, ids)
            if reason is None:
                with self._lock:
                    self.services[name].datacenters[dc_id].vms.update(
                        (vm["vmId"], vm) for vm in found
                    )
                self.progress.update(vms_fetched=len(found))
                return True
        with self._lock:
            self.listing_fallbacks.append(f"{path}: {reason}; read one VM at a time")
        return False

    def vm_licensed(self, name: str, dc_id: int) -> None:
        path = f"/dedicatedCloud/{name}/datacenter/{dc_id}/vmLicensed"
        try:
            entries = _objects(self.get(path), path)
        except _Unreadable as exc:
            self.fail(Failure(Scope.VM_LICENSED, path, str(exc), name, dc_id))
            return
        self.services[name].datacenters[dc_id].vm_licensed = entries

    def vm(self, name: str, dc_id: int, vm_id: int) -> None:
        path = f"/dedicatedCloud/{name}/datacenter/{dc_id}/vm/{vm_id}"
        try:
            data = _object(self.get(path), path)
        except _Unreadable as exc:
            self.fail(Failure(Scope.VM, path, str(exc), name, dc_id, vm_id))
            return
        with self._lock:
            self.services[name].datacenters[dc_id].vms[vm_id] = data
        self.progress.update(vms_fetched=1)

    # -- the result -------------------------------------------------------------------

    def pace(self) -> PaceReport:
        return self._limiter.report()

    def snapshot(self, meta: RunMeta) -> Snapshot:
        services: list[ServiceSnapshot] = []
        dcs_listed = dcs_read = vms_listed = vms_fetched = services_read = 0
        for name in sorted(self.services):
            service = self.services[name]
            if service.details is not None and service.datacenter_ids is not None:
                services_read += 1
            datacenters: list[DatacenterSnapshot] = []
            for dc_id in sorted(service.datacenters):
                dc = service.datacenters[dc_id]
                dcs_listed += 1
                vm_ids = dc.vm_ids or []
                vms_listed += len(vm_ids)
                vms_fetched += len(dc.vms)
                if dc.details is not None and dc.vm_ids is not None and dc.vm_licensed is not None:
                    dcs_read += 1
                datacenters.append(
                    DatacenterSnapshot(
                        datacenter_id=dc_id,
                        details=dc.details,
                        vm_ids=tuple(vm_ids),
                        vms=tuple(dc.vms[vm_id] for vm_id in sorted(dc.vms)),
                        vm_licensed=None
                        if dc.vm_licensed is None
                        else tuple(sorted(dc.vm_licensed, key=_licensed_sort_key)),
                    )
                )
            services.append(ServiceSnapshot(name, service.details, tuple(datacenters)))
        coverage = Coverage(
            services_listed=len(self.services),
            services_read=services_read,
            datacenters_listed=dcs_listed,
            datacenters_read=dcs_read,
            vms_listed=vms_listed,
            vms_fetched=vms_fetched,
            failures=tuple(sorted(self.failures, key=_failure_sort_key)),
        )
        return Snapshot(meta=meta, services=tuple(services), coverage=coverage)


def _licensed_sort_key(entry: JSONObject) -> tuple[str, str]:
    return (str(entry.get("vmId")).rjust(20), str(entry.get("moRef")))


def _failure_sort_key(failure: Failure) -> tuple[str, str]:
    return (failure.path, failure.scope.value)


def collect(factory: ClientFactory, options: CollectOptions, endpoint_label: str) -> Snapshot:
    """Read every service, datacenter and VM; failures go to coverage, refusals raise."""
    client = factory.new_client()  # fail fast on missing credentials, before any thread
    started = time.monotonic()
    taken_at = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    credential = read_credential(client)
    walk = _Walk(factory, options, time_delta=getattr(client, "_time_delta", None))
    walk.submit(walk.list_services)
    walk.wait()
    if walk.expired:
        print(
            f"ovh-license-audit: warning: the collection's deadline passed after "
            f"{walk.deadline_s():.0f} s (--deadline, or deadline_s in the config): what was "
            "not read by then is recorded as unread",
            file=sys.stderr,
        )
    pace = walk.pace()
    meta = RunMeta(
        taken_at=taken_at,
        endpoint=endpoint_label,
        tool_version=__version__,
        duration_s=round(time.monotonic() - started, 3),
        calls=walk.calls,
        retries=walk.retries,
        workers=options.workers,
        max_rps=options.max_rps or 0.0,
        credential=credential,
        rate_reached=pace.rate,
        rate_peak=pace.peak,
        throttled=pace.throttled,
        listing=options.listing.value,
        listing_fallbacks=tuple(sorted(walk.listing_fallbacks)),
    )
    snapshot = walk.snapshot(meta)
    if snapshot.coverage.complete or snapshot.coverage.services_listed:
        # When nothing could be read, the run's one line says so; the key is not the news.
        warn_about_credential(credential, meta.taken)
    return snapshot
