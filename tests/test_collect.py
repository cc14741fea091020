"""The collector against the simulator, through the real `ovh` client over HTTP."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
from typing import Any

import pytest

from audit.collect.api import ClientFactory, Credentials, resolve_endpoint
from audit.collect.collector import CollectOptions, collect
from audit.collect.retry import RetryPolicy
from audit.model.snapshot import Scope, Snapshot
from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
    SimulatorConfig,
)
from audit.simulator.fleet import Fleet
from audit.simulator.generate import generate_fleet
from audit.simulator.server import Simulator
from audit.support.errors import CredentialError

PROD = "pcc-203-0-113-10"
DR = "pcc-198-51-100-24"

FAST_RETRY = RetryPolicy(max_retries=8, base_delay_s=0.01, max_delay_s=0.05)


def factory_for(
    sim: Simulator,
    secret: str = DEFAULT_APPLICATION_SECRET,
    app_key: str = DEFAULT_APPLICATION_KEY,
) -> ClientFactory:
    endpoint = resolve_endpoint(sim.url)
    return ClientFactory(endpoint, Credentials(app_key, secret, READONLY_CONSUMER_KEY))


def content(snapshot: Snapshot) -> dict[str, Any]:
    """Everything but the run metadata (time, calls, retries), which differs run to run."""
    data = snapshot.to_json()
    del data["run"]
    return data


def test_collects_every_object_and_isolates_an_outage(simulator: Simulator) -> None:
    snapshot = collect(
        factory_for(simulator), CollectOptions(workers=4, max_rps=None, retry=FAST_RETRY), "sim"
    )
    assert [s.service_name for s in snapshot.services] == sorted([PROD, DR])
    prod = next(s for s in snapshot.services if s.service_name == PROD)
    dc1, dc2 = prod.datacenters
    assert [vm["vmId"] for vm in dc1.vms] == [1074, 1075, 1076, 1077, 1078]
    assert "toolsGuestOsFamily" not in dc1.vms[0]
    assert dc2.vm_licensed is not None
    assert {entry["vmId"] for entry in dc2.vm_licensed} == {2001, 2999}
    assert prod.details is not None and prod.details["serviceName"] == PROD

    coverage = snapshot.coverage
    assert not coverage.complete
    assert coverage.vms_fetched == 7
    assert coverage.datacenters_listed == 3
    assert coverage.datacenters_read == 2
    (failure,) = coverage.failures
    assert failure.scope is Scope.DATACENTER
    assert failure.path == f"/dedicatedCloud/{DR}/datacenter/3/vm"
    assert "503" in failure.error
    assert (failure.service_name, failure.datacenter_id) == (DR, 3)


def test_faults_and_rate_limits_give_the_same_content_as_a_clean_run() -> None:
    fleet = generate_fleet(60, seed=3).fleet
    with Simulator(fleet) as clean_sim:
        clean = collect(factory_for(clean_sim), CollectOptions(workers=4, max_rps=None), "sim")
    assert clean.coverage.complete

    # A one-second burst of 30 calls is spent at once by 8 unthrottled workers, so 429s come.
    hostile = SimulatorConfig(fault_rate=0.15, rate_limit=30.0, seed=11)
    with Simulator(fleet, hostile) as sim:
        options = CollectOptions(workers=8, max_rps=None, retry=FAST_RETRY, seed=1)
        noisy = collect(factory_for(sim), options, "sim")
        stats = sim.stats
    assert noisy.coverage.complete
    assert noisy.meta.retries > 0
    assert stats.rate_limited > 0 and stats.faults > 0
    assert content(noisy) == content(clean)


def test_client_side_rate_limit_keeps_under_the_server_limit() -> None:
    fleet = generate_fleet(40, seed=5).fleet
    with Simulator(fleet, SimulatorConfig(rate_limit=200.0)) as sim:
        options = CollectOptions(workers=8, max_rps=100.0, retry=FAST_RETRY)
        snapshot = collect(factory_for(sim), options, "sim")
        assert sim.stats.rate_limited == 0
    assert snapshot.coverage.complete
    assert snapshot.meta.retries == 0


def test_the_workers_sign_with_the_clock_offset_the_first_client_measured() -> None:
    with Simulator(generate_fleet(40, seed=3).fleet) as sim:
        snapshot = collect(factory_for(sim), CollectOptions(workers=4, max_rps=None), "sim")
        served = sim.stats.requests
    assert snapshot.coverage.complete and snapshot.meta.retries == 0
    # GET /auth/time and /auth/currentCredential once, before the walk; no worker asks the
    # time again: the server saw the walk's calls and nothing else.
    assert served == snapshot.meta.calls + 2


def test_retries_are_bounded() -> None:
    fleet = generate_fleet(30, seed=2).fleet
    with Simulator(fleet, SimulatorConfig(fault_rate=1.0)) as sim:
        options = CollectOptions(workers=2, retry=RetryPolicy(2, 0.001, 0.002))
        snapshot = collect(factory_for(sim), options, "sim")
    (failure,) = snapshot.coverage.failures
    assert failure.scope is Scope.SERVICES
    assert "after 3 tries" in failure.error
    assert snapshot.meta.calls == 3


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ({"secret": "wrong-secret"}, "InvalidCredential"),
        ({"app_key": "unknown-app"}, "InvalidKey"),
    ],
)
def test_refused_credentials_stop_the_run(
    simulator: Simulator, credentials: dict[str, str], message: str
) -> None:
    with pytest.raises(CredentialError, match=message) as raised:
        collect(
            factory_for(simulator, **credentials),
            CollectOptions(max_rps=None, retry=FAST_RETRY),
            "sim",
        )
    assert "wrong-secret" not in str(raised.value)


def test_vm_disappearing_between_list_and_get_is_recorded(fleet_data: dict[str, Any]) -> None:
    fleet_data["faults"] = [{"path": f"/dedicatedCloud/{PROD}/datacenter/1/vm/1075", "status": 404}]
    with Simulator(Fleet.from_json(fleet_data, "fleet")) as sim:
        snapshot = collect(factory_for(sim), CollectOptions(max_rps=None, retry=FAST_RETRY), "sim")
    (failure,) = snapshot.coverage.failures
    assert (failure.scope, failure.vm_id) == (Scope.VM, 1075)
    assert snapshot.coverage.vms_listed - snapshot.coverage.vms_fetched == 1
    assert dataclasses.replace(snapshot.coverage, failures=()).complete


class _CountingClient:
    """A real client that counts its GETs and interrupts the main thread at the `at`-th."""

    def __init__(self, client: Any, counter: dict[str, int], at: int) -> None:
        self._client, self._counter, self._at = client, counter, at

    def get(self, path: str, **kwargs: Any) -> Any:
        self._counter["calls"] += 1
        if self._counter["calls"] == self._at:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, delivered to the main thread
        return self._client.get(path, **kwargs)


def test_ctrl_c_stops_the_workers_instead_of_finishing_the_walk() -> None:
    counter = {"calls": 0}
    fleet = generate_fleet(400, seed=3).fleet
    with Simulator(fleet, SimulatorConfig(latency_ms=20)) as sim:
        base = factory_for(sim)

        class Counting(ClientFactory):
            def new_client(self, require_consumer_key: bool = True) -> Any:
                return _CountingClient(base.new_client(require_consumer_key), counter, at=30)

        factory = Counting(base.endpoint, base.credentials)
        with pytest.raises(KeyboardInterrupt):
            collect(factory, CollectOptions(workers=8, max_rps=None, retry=FAST_RETRY), "sim")
        for thread in threading.enumerate():
            if thread.name.startswith("collect"):
                thread.join()
    # The calls in flight when Ctrl-C came finish; none starts after it (400 VMs, 400+ calls).
    assert counter["calls"] <= 30 + 8
