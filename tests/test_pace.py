"""The adaptive pace as a pure unit (injected clock), and the collector against rate-limited
and paging simulators."""

from __future__ import annotations

from typing import Any

import pytest
from test_collect import FAST_RETRY, content, factory_for

from audit.collect.collector import CollectOptions, Listing, collect
from audit.collect.throttle import AdaptiveLimiter, PacePolicy
from audit.model.snapshot import Snapshot
from audit.simulator import api as simulator_api
from audit.simulator.api import SimulatorConfig
from audit.simulator.generate import generate_fleet
from audit.simulator.server import Simulator


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(clock: FakeClock, **policy: Any) -> AdaptiveLimiter:
    return AdaptiveLimiter(PacePolicy(**policy), clock=clock, sleep=clock.sleep)


def succeed(pace: AdaptiveLimiter, clock: FakeClock, calls: int, latency: float = 0.04) -> None:
    for _ in range(calls):
        pace.acquire()
        pace.on_success(latency)


def test_a_fixed_rate_spaces_calls_evenly() -> None:
    clock = FakeClock()
    pace = limiter(clock, start=4.0, floor=4.0, ceiling=4.0)
    succeed(pace, clock, 9)
    assert clock.now == pytest.approx(2.0)
    assert pace.rate == 4.0


def test_no_ceiling_means_no_spacing_but_pauses_still_hold() -> None:
    clock = FakeClock()
    pace = limiter(clock, ceiling=None)
    succeed(pace, clock, 50)
    assert clock.now == 0.0
    pace.pause(3.0)
    pace.acquire()
    assert clock.now == pytest.approx(3.0)


def test_the_rate_rises_while_calls_succeed_up_to_the_ceiling() -> None:
    clock = FakeClock()
    pace = limiter(clock, start=10.0, ceiling=40.0)
    succeed(pace, clock, 10)
    assert pace.rate == pytest.approx(20.0)  # slow start: one rps more per success
    succeed(pace, clock, 100)
    assert pace.rate == 40.0
    assert pace.report().peak == 40.0


def test_once_the_first_second_answered_without_push_back_the_climb_is_faster() -> None:
    clock = FakeClock()
    pace = limiter(clock, start=10.0, ceiling=1000.0)
    succeed(pace, clock, 10)
    assert pace.rate == pytest.approx(20.0)  # the first second: one rps more per success
    succeed(pace, clock, 10)
    assert pace.rate == pytest.approx(50.0)  # then three


def test_a_back_off_in_the_first_second_keeps_the_polite_climb() -> None:
    clock = FakeClock()
    pace = limiter(clock, start=10.0, ceiling=1000.0)
    succeed(pace, clock, 5)
    pace.on_server_error(pace.acquire())
    assert pace.rate == pytest.approx(0.8 * 15.0)
    succeed(pace, clock, 20)
    assert pace.rate == pytest.approx(0.8 * 15.0 + 20)  # one rps more per success, still


def test_a_rate_raised_while_calls_wait_spaces_the_next_call_at_once() -> None:
    clock = FakeClock()
    pace = limiter(clock, start=1.0, floor=1.0, ceiling=10.0)
    pace.acquire()
    for _ in range(9):  # answers to earlier calls arrive: the rate rises to the ceiling
        pace.on_success(0.04)
    assert pace.rate == 10.0
    pace.acquire()
    assert clock.now == pytest.approx(0.1)  # not the 1 s of the rate when the last call left


def test_a_late_wake_up_does_not_slow_the_pace_but_an_idle_spell_gives_no_burst() -> None:
    clock = FakeClock()
    late = 0.01

    def oversleep(seconds: float) -> None:
        clock.sleep(seconds + late)

    pace = AdaptiveLimiter(PacePolicy(start=4.0, floor=4.0, ceiling=4.0), clock, oversleep)
    for _ in range(5):
        pace.acquire()
    assert clock.now == pytest.approx(1.0 + late)  # each slot counted from the one before
    clock.now += 10.0  # nobody called for a while
    pace.acquire()
    pace.acquire()
    assert clock.now == pytest.approx(11.25 + 2 * late)  # the next one waits a full interval


def test_no_increase_while_latency_has_grown() -> None:
    clock = FakeClock()
    pace = limiter(clock, start=10.0)
    succeed(pace, clock, 1, latency=0.04)
    rate = pace.rate
    succeed(pace, clock, 20, latency=0.5)
    assert pace.rate == rate


def test_a_429_cuts_once_to_a_share_of_what_the_server_allowed_and_pauses_everyone() -> None:
    clock = FakeClock()
    pace = limiter(clock, start=20.0, floor=1.0, ceiling=20.0)
    succeed(pace, clock, 40)  # successes every 0.05 s until t=1.95
    first = pace.acquire()
    second = pace.acquire()  # allowed before the back-off (t=2.05), answered after it
    at = clock.now
    pace.on_throttled(first, retry_after=2.0)
    assert pace.known_limit == pytest.approx(18.0)  # the successes of the last second
    assert pace.rate == pytest.approx(0.6 * 18.0)
    pace.on_throttled(second, retry_after=2.0)
    assert pace.rate == pytest.approx(0.6 * 18.0)  # the same back-off: no second cut
    assert pace.report().throttled == 2
    pace.acquire()
    assert clock.now >= at + 2.0  # every worker waits out Retry-After


def test_after_a_429_the_rate_climbs_back_fast_then_probes_slowly() -> None:
    clock = FakeClock()
    pace = limiter(clock, start=50.0, ceiling=100.0)
    succeed(pace, clock, 100)
    ticket = pace.acquire()
    pace.on_throttled(ticket, retry_after=None)
    limit = pace.known_limit
    assert limit is not None
    succeed(pace, clock, 150)  # about four seconds
    assert 0.9 * limit < pace.rate <= 1.1 * limit
    succeed(pace, clock, 200)
    assert pace.rate < 1.3 * limit  # beyond the known limit only additive probing


def test_floor_and_milder_cut_on_server_errors() -> None:
    clock = FakeClock()
    pace = limiter(clock, start=10.0, floor=5.0, ceiling=10.0)
    pace.on_server_error(pace.acquire())
    assert pace.rate == pytest.approx(8.0)
    for _ in range(5):
        pace.on_server_error(pace.acquire())
    assert pace.rate == 5.0
    assert pace.report().server_errors == 6


def snapshot_of(sim: Simulator, options: CollectOptions) -> Snapshot:
    return collect(factory_for(sim), options, "sim")


def test_a_rate_limited_api_loses_nothing_with_the_default_options() -> None:
    fleet = generate_fleet(40, seed=3).fleet
    with Simulator(fleet, SimulatorConfig()) as free:
        reference = snapshot_of(free, CollectOptions(max_rps=None))
    with Simulator(generate_fleet(40, seed=3).fleet, SimulatorConfig(rate_limit=15)) as limited:
        snapshot = snapshot_of(limited, CollectOptions())
        answered_429 = limited.stats.by_status.get(429, 0)
    assert snapshot.coverage.complete
    assert content(snapshot) == content(reference)
    assert snapshot.meta.throttled == answered_429
    assert answered_429 > 0  # the limit was reached, and survived
    assert 1.0 <= snapshot.meta.rate_reached <= 100.0


def test_paged_listing_reads_the_same_content_in_a_few_calls() -> None:
    with Simulator(generate_fleet(300, seed=5).fleet, SimulatorConfig()) as sim:
        per_vm = snapshot_of(sim, CollectOptions(max_rps=None))
        paged = snapshot_of(sim, CollectOptions(max_rps=None, listing=Listing.PAGED, page_size=50))
    assert content(paged) == content(per_vm)
    assert paged.meta.listing == "paged" and paged.meta.listing_fallbacks == ()
    assert paged.meta.calls < per_vm.meta.calls / 10


def test_pages_that_do_not_match_the_id_list_fall_back_to_one_get_per_vm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_page = simulator_api._vm_page

    def short_page(call: Any, vms: list[Any]) -> Any:
        return real_page(call, vms[1:])  # a cached listing that misses a VM

    monkeypatch.setattr(simulator_api, "_vm_page", short_page)
    with Simulator(generate_fleet(40, seed=5).fleet, SimulatorConfig()) as sim:
        per_vm = snapshot_of(sim, CollectOptions(max_rps=None))
        paged = snapshot_of(
            sim, CollectOptions(max_rps=None, listing=Listing.PAGED, retry=FAST_RETRY)
        )
    assert content(paged) == content(per_vm)
    datacenters = sum(len(service.datacenters) for service in per_vm.services)
    assert len(paged.meta.listing_fallbacks) == datacenters
    assert "one VM at a time" in paged.meta.listing_fallbacks[0]
