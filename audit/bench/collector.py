"""Collector throughput: against the ideal for the same calls, a plain sequential loop, and
servers that limit their rate (how close the adaptive pace gets to the limit, at what cost)."""

from __future__ import annotations

import time
from typing import Any

import ovh

from audit.bench.simulated import simulator_process
from audit.collect.api import ClientFactory, Credentials, resolve_endpoint
from audit.collect.collector import CollectOptions, Listing, collect
from audit.model.snapshot import Snapshot
from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
)

FLEET_VMS = 3000
LATENCY_MS = 40
HIGH_CEILING_RPS = 1000.0
SEQUENTIAL_SAMPLE_CALLS = 300
# Server limit (requests per second) -> fleet size, so each run lasts about 20 to 45 s.
LIMITED_FLEETS = ((10.0, 400), (50.0, 1000))


def sequential_walk(client: ovh.Client, max_calls: int) -> int:
    """The loop a first script would write: one client, one call after another."""
    calls = 0

    def get(path: str) -> object:
        nonlocal calls
        calls += 1
        return client.get(path)

    for service in get("/dedicatedCloud"):  # type: ignore[attr-defined]
        get(f"/dedicatedCloud/{service}")
        for dc in get(f"/dedicatedCloud/{service}/datacenter"):  # type: ignore[attr-defined]
            base = f"/dedicatedCloud/{service}/datacenter/{dc}"
            get(base)
            get(f"{base}/vmLicensed")
            for vm_id in get(f"{base}/vm"):  # type: ignore[attr-defined]
                get(f"{base}/vm/{vm_id}")
                if calls >= max_calls:
                    return calls
    return calls


def _factory(url: str) -> ClientFactory:
    credentials = Credentials(
        DEFAULT_APPLICATION_KEY, DEFAULT_APPLICATION_SECRET, READONLY_CONSUMER_KEY
    )
    return ClientFactory(resolve_endpoint(url), credentials)


def _content(snapshot: Snapshot) -> dict[str, Any]:
    data = snapshot.to_json()
    del data["run"]
    return data


def unlimited_rows() -> list[tuple[str, str]]:
    """No server limit, a high ceiling: the adaptive pace against the loop and the ideal."""
    rows: list[tuple[str, str]] = []
    options = ("--generate", str(FLEET_VMS), "--seed", "7", "--latency-ms", str(LATENCY_MS))
    with simulator_process(*options) as url:
        factory = _factory(url)
        defaults = CollectOptions(max_rps=HIGH_CEILING_RPS)
        snapshot = collect(factory, defaults, factory.endpoint)
        calls = snapshot.meta.calls
        collector_s = snapshot.meta.duration_s
        ideal_s = calls * LATENCY_MS / 1000 / defaults.workers

        client = factory.new_client()
        started = time.perf_counter()
        sampled = sequential_walk(client, SEQUENTIAL_SAMPLE_CALLS)
        sequential_s = (time.perf_counter() - started) * calls / sampled

        paged = collect(factory, CollectOptions(listing=Listing.PAGED), factory.endpoint)
    vms = snapshot.coverage.vms_fetched
    rows.append(
        (
            f"collect {vms} VMs, {calls} calls, {LATENCY_MS} ms latency, no server limit, "
            f"ceiling {HIGH_CEILING_RPS:g} rps, {defaults.workers} workers",
            f"{collector_s:.2f}s",
        )
    )
    rows.append(("  ideal (calls x latency / workers)", f"{ideal_s:.2f}s"))
    rows.append((f"  sequential loop (extrapolated from {sampled} calls)", f"{sequential_s:.2f}s"))
    rows.append(("  collector / ideal", f"{collector_s / ideal_s:.2f}x"))
    rows.append(("  sequential / collector (target >= 10)", f"{sequential_s / collector_s:.1f}x"))
    rows.append(
        (
            f"  rate reached (peak {snapshot.meta.rate_peak:g})",
            f"{snapshot.meta.rate_reached:g} rps",
        )
    )
    same = _content(paged) == _content(snapshot)
    rows.append(
        (
            f"--listing paged: {paged.coverage.vms_fetched} VMs, {paged.meta.calls} calls, "
            f"same content: {'yes' if same else 'NO'}",
            f"{paged.meta.duration_s:.2f}s",
        )
    )
    rows.append(("  calls per VM (target <= 0.02)", f"{paged.meta.calls / vms:.3f}"))
    return rows


def limited_rows(limit: float, vms: int) -> list[tuple[str, str]]:
    """A server answering 429 beyond `limit` requests per second: the default options."""
    options = (
        *("--generate", str(vms), "--seed", "7", "--latency-ms", str(LATENCY_MS)),
        *("--rate-limit", f"{limit:g}"),
    )
    with simulator_process(*options) as url:
        factory = _factory(url)
        snapshot = collect(factory, CollectOptions(), factory.endpoint)
    meta, coverage = snapshot.meta, snapshot.coverage
    needed = meta.calls - meta.retries
    floor_s = needed / limit
    lost = "nothing lost" if coverage.complete and coverage.vms_fetched == vms else "INCOMPLETE"
    return [
        (
            f"collect {vms} VMs, default options, server limit {limit:g} rps, "
            f"{LATENCY_MS} ms latency ({lost})",
            f"{meta.duration_s:.2f}s",
        ),
        (f"  calls / limit ({needed} calls)", f"{floor_s:.2f}s"),
        ("  collector / (calls / limit) (target <= 1.25)", f"{meta.duration_s / floor_s:.2f}x"),
        (
            f"  answered 429 ({meta.throttled} of {meta.calls}; target <= 5 %)",
            f"{100 * meta.throttled / meta.calls:.1f} %",
        ),
        (f"  rate reached (peak {meta.rate_peak:g})", f"{meta.rate_reached:g} rps"),
    ]


def run() -> list[tuple[str, str]]:
    rows = unlimited_rows()
    for limit, vms in LIMITED_FLEETS:
        rows += limited_rows(limit, vms)
    return rows
