"""The `ovh` credentials of the simulator, given the `ovh` way (environment variables), for
tests that run the CLI: import `ovh_credentials` into a test module to make it autouse there."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
)

SECRET = DEFAULT_APPLICATION_SECRET


@pytest.fixture(autouse=True)
def ovh_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials the `ovh` way, from the environment, and no stray ovh.conf."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OVH_APPLICATION_KEY", DEFAULT_APPLICATION_KEY)
    monkeypatch.setenv("OVH_APPLICATION_SECRET", SECRET)
    monkeypatch.setenv("OVH_CONSUMER_KEY", READONLY_CONSUMER_KEY)
