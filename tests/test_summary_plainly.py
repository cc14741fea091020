"""What the executive summary says plainly: a consumer key that never expires, and an endpoint
that is not one of the OVHcloud API's (a simulator, a proxy) (issue 21)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import ovh
import pytest

from audit.collect.source import SnapshotSource
from audit.deliver.digest import digest_from_run_dir
from audit.job import JobSpec, run_job
from audit.model.endpoints import OVHCLOUD_ENDPOINTS, is_ovhcloud
from audit.model.period import Period
from audit.model.snapshot import CredentialInfo, CredentialRule, write_snapshot
from audit.render.changes import changes_display
from audit.render.summary import executive_summary
from audit.run_folder import load_run_with_history
from tests.helpers.history import PROD, WIN
from tests.helpers.history import snapshot as fleet_snapshot
from tests.helpers.vms import api_vm

KEY = CredentialInfo("validated", None, (CredentialRule("GET", "/dedicatedCloud/*"),))


def run(tmp_path: Path, endpoint: str, credential: CredentialInfo | None) -> Path:
    snapshot = fleet_snapshot({(PROD, 1): [api_vm(1, WIN, None)]}, "2026-02-03T03:00:00Z")
    snapshot = replace(
        snapshot, meta=replace(snapshot.meta, endpoint=endpoint, credential=credential)
    )
    path = tmp_path / f"{len(list(tmp_path.iterdir()))}.json.gz"
    write_snapshot(snapshot, path)
    out = tmp_path / f"out-{path.stem}"
    spec = JobSpec(out_dir=out, period=Period(2026, 1), source=SnapshotSource(from_file=path))
    return run_job(spec).run_dir


def lines(run_dir: Path) -> dict[str, list[str]]:
    data = load_run_with_history(run_dir)
    found: dict[str, list[str]] = {}
    for line in executive_summary(data, changes_display(data)):
        found.setdefault(line.label, []).append(line.text)
    return found


def test_the_named_endpoints_are_the_ovh_clients() -> None:
    for name, url in OVHCLOUD_ENDPOINTS.items():
        assert ovh.client.ENDPOINTS[name] == url
    assert is_ovhcloud("ovh-eu") and is_ovhcloud("https://eu.api.ovh.com/1.0/")
    assert not is_ovhcloud("http://127.0.0.1:8080/1.0")
    assert not is_ovhcloud("https://eu.api.ovh.com.proxy.example/1.0")


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8080/1.0", "https://proxy.example/1.0"])
def test_a_non_ovhcloud_endpoint_is_stated(tmp_path: Path, endpoint: str) -> None:
    run_dir = run(tmp_path, endpoint, None)
    [text] = lines(run_dir)["API endpoint"]
    assert text.startswith(f"{endpoint} is not an OVHcloud API endpoint")
    assert "API endpoint" in [line.label for line in digest_from_run_dir(run_dir).summary]
    assert f"{endpoint} is not an OVHcloud API endpoint" in (
        (run_dir / "report.html").read_text(encoding="utf-8")
    )


def test_an_ovhcloud_endpoint_and_a_key_with_expiry_say_nothing_more(tmp_path: Path) -> None:
    key = replace(KEY, expiration="2027-06-01T00:00:00+00:00")
    found = lines(run(tmp_path, "ovh-eu", key))
    assert "API endpoint" not in found
    assert not any("never expires" in text for text in found.get("Warning", []))


def test_a_key_without_expiry_is_stated(tmp_path: Path) -> None:
    found = lines(run(tmp_path, "ovh-eu", KEY))
    assert any(text.startswith("The consumer key never expires") for text in found["Warning"])
