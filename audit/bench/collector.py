"""Collector throughput: against the ideal for the same calls and a plain sequential loop."""

from __future__ import annotations

import time

import ovh

from audit.bench.simulated import simulator_process
from audit.collect.api import ClientFactory, Credentials, resolve_endpoint
from audit.collect.collector import CollectOptions, collect
from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
)

FLEET_VMS = 3000
LATENCY_MS = 40
WORKERS = 16
SEQUENTIAL_SAMPLE_CALLS = 300


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


def run() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    options = ("--generate", str(FLEET_VMS), "--seed", "7", "--latency-ms", str(LATENCY_MS))
    with simulator_process(*options) as url:
        endpoint = resolve_endpoint(url)
        credentials = Credentials(
            DEFAULT_APPLICATION_KEY, DEFAULT_APPLICATION_SECRET, READONLY_CONSUMER_KEY
        )
        factory = ClientFactory(endpoint, credentials)
        snapshot = collect(factory, CollectOptions(workers=WORKERS, max_rps=None), endpoint)
        calls = snapshot.meta.calls
        collector_s = snapshot.meta.duration_s
        ideal_s = calls * LATENCY_MS / 1000 / WORKERS

        client = factory.new_client()
        started = time.perf_counter()
        sampled = sequential_walk(client, SEQUENTIAL_SAMPLE_CALLS)
        sequential_s = (time.perf_counter() - started) * calls / sampled
    rows.append(
        (
            f"collect {snapshot.coverage.vms_fetched} VMs, {calls} calls, "
            f"{LATENCY_MS} ms latency, {WORKERS} workers",
            f"{collector_s:.2f}s",
        )
    )
    rows.append(("  ideal (calls x latency / workers)", f"{ideal_s:.2f}s"))
    rows.append((f"  sequential loop (extrapolated from {sampled} calls)", f"{sequential_s:.2f}s"))
    rows.append(("  collector / ideal (target <= 1.3)", f"{collector_s / ideal_s:.2f}x"))
    rows.append(("  sequential / collector", f"{sequential_s / collector_s:.1f}x faster"))
    return rows
