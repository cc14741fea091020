"""`auth request` / `auth check` against the simulator, and the key warnings of every run."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import ovh.exceptions
import pytest
import requests

from audit.cli.main import main
from audit.collect.credential import read_credential
from audit.model.snapshot import CredentialInfo, CredentialRule, SnapshotMeta, credential_warnings
from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    REMEDIATE_CONSUMER_KEY,
    SimulatorConfig,
)
from audit.simulator.generate import generate_fleet
from audit.simulator.server import Simulator
from audit.support.errors import CredentialError
from audit.support.timestamps import parse_timestamp

GET_ONLY = ["GET /dedicatedCloud", "GET /dedicatedCloud/*"]


@pytest.fixture(autouse=True)
def application(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OVH_APPLICATION_KEY", DEFAULT_APPLICATION_KEY)
    monkeypatch.setenv("OVH_APPLICATION_SECRET", DEFAULT_APPLICATION_SECRET)
    monkeypatch.delenv("OVH_CONSUMER_KEY", raising=False)


def request_key(sim: Simulator, capsys: pytest.CaptureFixture[str], *extra: str) -> list[str]:
    assert main(["auth", "request", "--endpoint", sim.url, *extra]) == 0
    return capsys.readouterr().out.splitlines()


def rules_shown(out: str) -> list[str]:
    lines = out.splitlines()
    return [line.strip() for line in lines[lines.index("rules:") + 1 :]]


@pytest.mark.parametrize(
    ("extra", "rules"),
    [
        ((), GET_ONLY),
        (
            ("--remediation",),
            [
                *GET_ONLY,
                "POST /dedicatedCloud/*/datacenter/*/vm/*/setLicense",
                "POST /dedicatedCloud/*/datacenter/*/vm/*/removeLicense",
            ],
        ),
    ],
)
def test_a_requested_key_works_once_validated_with_only_the_rights_asked(
    simulator: Simulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: tuple[str, ...],
    rules: list[str],
) -> None:
    out = request_key(simulator, capsys, *extra)
    url = next(line.strip() for line in out if "credentialToken=" in line)
    key_line = out.index(next(line for line in out if "shown only this once" in line))
    consumer_key = out[key_line + 1].strip()
    assert consumer_key.startswith("sim-ck-")
    assert sum(consumer_key in line for line in out) == 1  # printed once

    monkeypatch.setenv("OVH_CONSUMER_KEY", consumer_key)
    assert main(["auth", "check", "--endpoint", simulator.url]) == 2  # not validated yet
    assert "not valid" in capsys.readouterr().err

    assert requests.get(url, timeout=5).status_code == 200  # the owner validates
    assert main(["auth", "check", "--endpoint", simulator.url]) == 0
    captured = capsys.readouterr()
    assert "status: validated" in captured.out
    assert rules_shown(captured.out) == rules
    assert ("more than read" in captured.err) == bool(extra)


def test_the_simulator_read_only_key_has_the_audit_rules(
    simulator: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVH_CONSUMER_KEY", "sim-ck-readonly")
    assert main(["auth", "check", "--endpoint", simulator.url]) == 0
    captured = capsys.readouterr()
    assert rules_shown(captured.out) == GET_ONLY
    assert captured.err == ""


def test_auth_check_shows_the_remediation_key_and_warns(
    simulator: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVH_CONSUMER_KEY", REMEDIATE_CONSUMER_KEY)
    assert main(["auth", "check", "--endpoint", simulator.url]) == 0
    captured = capsys.readouterr()
    assert "expires: never" in captured.out
    assert "POST allowed" in captured.err


@pytest.mark.slow
def test_a_run_records_the_key_and_warns_when_it_may_write_or_expires_soon(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OVH_CONSUMER_KEY", REMEDIATE_CONSUMER_KEY)
    config = SimulatorConfig(key_validity_days=10)
    out = tmp_path / "snapshot.json.gz"
    with Simulator(generate_fleet(20, seed=2).fleet, config) as sim:
        code = main(["snapshot", "--endpoint", sim.url, "--out", str(out), "--max-rps", "1000"])
    assert code == 0
    err = capsys.readouterr().err
    assert "may do more than read (POST allowed)" in err
    assert "expires in 9 days" in err or "expires in 10 days" in err
    run = json.loads(gzip.decompress(out.read_bytes()))["run"]
    assert run["credential"]["status"] == "validated"
    assert {rule["method"] for rule in run["credential"]["rules"]} == {"GET", "POST"}
    assert REMEDIATE_CONSUMER_KEY not in out.read_bytes().decode("latin-1")
    assert DEFAULT_APPLICATION_SECRET not in gzip.decompress(out.read_bytes()).decode()


def test_a_key_whose_rights_cannot_be_read_is_recorded_as_unknown() -> None:
    info = CredentialInfo(note="GET /auth/currentCredential: HTTP 403")
    assert not info.known
    [warning] = credential_warnings(info, parse_timestamp("2026-11-01T02:00:00Z"))
    assert "could not be read" in warning


@pytest.mark.parametrize(
    ("expiration", "expected"),
    [
        (None, []),
        ("2026-12-15T00:00:00+00:00", []),
        ("2026-11-20T00:00:00+00:00", ["expires in 18 days"]),
        ("2026-10-01T00:00:00+00:00", ["has expired"]),
    ],
)
def test_expiry_warning_within_30_days_of_the_snapshot(
    expiration: str | None, expected: list[str]
) -> None:
    info = CredentialInfo("validated", expiration, (CredentialRule("GET", "/dedicatedCloud/*"),))
    warnings = credential_warnings(info, parse_timestamp("2026-11-01T02:00:00Z"))
    assert len(warnings) == len(expected)
    for warning, words in zip(warnings, expected, strict=True):
        assert words in warning


def test_old_snapshots_read_without_the_new_run_fields() -> None:
    old = {"taken_at": "2026-11-01T02:00:00Z", "endpoint": "ovh-eu", "tool_version": "0.1.0"}
    meta = SnapshotMeta.from_json(old)
    assert meta.credential is None and meta.throttled == 0 and meta.listing == "per-vm"


@pytest.mark.parametrize(
    "refusal",
    [
        ovh.exceptions.NotGrantedCall("This call has not been granted"),
        ovh.exceptions.ResourceNotFoundError("Got an invalid (or empty) URL"),
    ],
)
def test_a_refused_credential_read_is_not_fatal(refusal: Exception) -> None:
    class Client:
        def get(self, path: str) -> object:
            raise refusal

    info = read_credential(Client())  # type: ignore[arg-type]
    assert info.status == "unknown" and "/auth/currentCredential" in info.note


def test_a_rejected_key_stops_the_run_at_the_credential_read() -> None:
    class Client:
        def get(self, path: str) -> object:
            raise ovh.exceptions.InvalidCredential("Invalid signature")

    with pytest.raises(CredentialError, match="Invalid signature"):
        read_credential(Client())  # type: ignore[arg-type]
