"""Collecting from a running simulator in tests: short retries, a client factory, and a
snapshot's content without its run metadata."""

from __future__ import annotations

from typing import Any

from audit.collect.api import ClientFactory, Credentials, resolve_endpoint
from audit.collect.retry import RetryPolicy
from audit.model.snapshot import Snapshot
from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
)
from audit.simulator.server import Simulator

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
