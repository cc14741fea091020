"""Collector throughput: against the ideal for the same calls, a plain sequential loop, and
servers that limit their rate (how close the adaptive pace gets to the limit, at what cost)."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
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
OTHER_FLEETS_VMS = (1500, 4000)  # no server limit either: the climb weighs most on a small fleet
STEADY_SHARE = (0.25, 0.9)  # the steady state: from the answer this share in to this one
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


@dataclass(frozen=True)
class _Timing(ClientFactory):
    """Clients that note when each answer came, for the steady state of a collection."""

    answered: list[float] = field(default_factory=list)

    def new_client(self, require_consumer_key: bool = True) -> ovh.Client:
        client = super().new_client(require_consumer_key)
        get = client.get

        def timed(path: str, **kwargs: Any) -> Any:
            result = get(path, **kwargs)
            self.answered.append(time.perf_counter())  # list.append: one step under the GIL
            return result

        client.get = timed
        return client

    def steady_seconds_per_call(self) -> float:
        """Seconds per answer in the middle of the run: after the climb, before the tail."""
        times = sorted(self.answered)
        first, last = (int(share * (len(times) - 1)) for share in STEADY_SHARE)
        return (times[last] - times[first]) / (last - first)


def _content(snapshot: Snapshot) -> dict[str, Any]:
    data = snapshot.to_json()
    del data["run"]
    return data


def _unlimited_fleet(vms: int) -> tuple[str, ...]:
    return ("--generate", str(vms), "--seed", "7", "--latency-ms", str(LATENCY_MS))


def unlimited_rows() -> list[tuple[str, str]]:
    """No server limit, a high ceiling: the adaptive pace against the loop and the ideal, at
    three fleet sizes, and in the steady state once the climb is over."""
    rows: list[tuple[str, str]] = []
    defaults = CollectOptions(max_rps=HIGH_CEILING_RPS)
    with simulator_process(*_unlimited_fleet(FLEET_VMS)) as url:
        factory = _factory(url)
        timing = _Timing(factory.endpoint, factory.credentials)
        snapshot = collect(timing, defaults, factory.endpoint)

        client = factory.new_client()
        started = time.perf_counter()
        sampled = sequential_walk(client, SEQUENTIAL_SAMPLE_CALLS)
        sequential_per_call = (time.perf_counter() - started) / sampled

        paged = collect(factory, CollectOptions(listing=Listing.PAGED), factory.endpoint)
    runs: dict[int, Snapshot] = {}
    for vms in OTHER_FLEETS_VMS:
        with simulator_process(*_unlimited_fleet(vms)) as url:
            factory = _factory(url)
            runs[vms] = collect(factory, defaults, factory.endpoint)

    def ideal(snapshot: Snapshot) -> float:
        return snapshot.meta.calls * LATENCY_MS / 1000 / defaults.workers

    calls, collector_s = snapshot.meta.calls, snapshot.meta.duration_s
    sequential_s = sequential_per_call * calls
    vms = snapshot.coverage.vms_fetched
    rows.append(
        (
            f"collect {vms} VMs, {calls} calls, {LATENCY_MS} ms latency, no server limit, "
            f"ceiling {HIGH_CEILING_RPS:g} rps, {defaults.workers} workers",
            f"{collector_s:.2f}s",
        )
    )
    rows.append(("  ideal (calls x latency / workers)", f"{ideal(snapshot):.2f}s"))
    rows.append((f"  sequential loop (extrapolated from {sampled} calls)", f"{sequential_s:.2f}s"))
    rows.append(("  collector / ideal", f"{collector_s / ideal(snapshot):.2f}x"))
    low, high = (f"{100 * share:g}" for share in STEADY_SHARE)
    rows.append(
        (
            f"  steady state, answers {low} to {high} %: collector / ideal (target <= 1.25)",
            f"{timing.steady_seconds_per_call() / (LATENCY_MS / 1000 / defaults.workers):.2f}x",
        )
    )
    rows.append(
        (
            "  sequential loop / its ideal (calls x latency): each call's own overhead",
            f"{sequential_per_call / (LATENCY_MS / 1000):.2f}x",
        )
    )
    rows.append(("  sequential / collector (target >= 10)", f"{sequential_s / collector_s:.1f}x"))
    rows.append(
        (
            f"  rate reached (peak {snapshot.meta.rate_peak:g})",
            f"{snapshot.meta.rate_reached:g} rps",
        )
    )
    for other in OTHER_FLEETS_VMS:
        meta = runs[other].meta
        rows.append(
            (
                f"collect {other} VMs, {meta.calls} calls, the same options: collector / ideal",
                f"{meta.duration_s / ideal(runs[other]):.2f}x",
            )
        )
        rows.append(
            (
                "  sequential / collector (the loop extrapolated)",
                f"{sequential_per_call * meta.calls / meta.duration_s:.1f}x",
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


def one_collection() -> list[tuple[str, str]]:
    """The 3,000-VM collection alone, no server limit: what to run under a profiler (the
    simulator is another process, so a profile of this one is the client's share)."""
    with simulator_process(*_unlimited_fleet(FLEET_VMS)) as url:
        factory = _factory(url)
        snapshot = collect(factory, CollectOptions(max_rps=HIGH_CEILING_RPS), factory.endpoint)
    meta = snapshot.meta
    return [
        (
            f"collect {snapshot.coverage.vms_fetched} VMs, {meta.calls} calls",
            f"{meta.duration_s:.2f}s",
        )
    ]


def main() -> None:
    """`python -m audit.bench.collector [one]`: this section of `make bench` alone."""
    parser = argparse.ArgumentParser(prog="python -m audit.bench.collector")
    parser.add_argument("what", nargs="?", choices=("all", "one"), default="all")
    rows = one_collection() if parser.parse_args().what == "one" else run()
    for label, value in rows:
        print(f"{label:<72} {value:>14}")


if __name__ == "__main__":
    main()
