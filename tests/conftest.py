"""Shared fixtures: a small hand-written fleet, a running simulator and real `ovh` clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import ovh
import pytest

from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
    SimulatorConfig,
)
from audit.simulator.fleet import Fleet
from audit.simulator.server import Simulator
from tests.helpers.fleet import hand_written_fleet


@pytest.fixture
def fleet_data() -> dict[str, Any]:
    """Two services; datacenter 1 derives vmLicensed, datacenter 2 overrides it with drift."""
    return hand_written_fleet()


@pytest.fixture
def simulator(fleet_data: dict[str, Any]) -> Iterator[Simulator]:
    """The hand-written fleet served on a free port, with fast licence tasks."""
    fleet = Fleet.from_json(fleet_data, "fleet_data")
    with Simulator(fleet, SimulatorConfig(task_seconds=0.1)) as running:
        yield running


ClientFactory = Callable[..., Any]


@pytest.fixture
def make_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
    """Build real `ovh.Client`s for a simulator (one per thread, as the client requires)."""
    clients: list[Any] = []

    def make(
        sim: Simulator,
        consumer_key: str = READONLY_CONSUMER_KEY,
        application_key: str = DEFAULT_APPLICATION_KEY,
        application_secret: str = DEFAULT_APPLICATION_SECRET,
    ) -> Any:
        name = f"simulator-{sim.port}"
        monkeypatch.setitem(ovh.client.ENDPOINTS, name, sim.url)
        client = ovh.Client(
            endpoint=name,
            application_key=application_key,
            application_secret=application_secret,
            consumer_key=consumer_key,
            timeout=10,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client._session.close()
