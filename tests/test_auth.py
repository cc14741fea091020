"""`auth request` / `auth check` against the simulator, and the key warnings of every run."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from tests.helpers.api import Answer, scripted_api

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
    warnings = [line for line in err.splitlines() if "warning:" in line]
    assert len(warnings) == len(set(warnings)) == 2  # each one once
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


def answers(
    time_answer: Answer | None = None,
    credential: Any = None,
    created: Any = None,
    listing: Any = None,
) -> Callable[[str, str], Answer]:
    """A scripted API: the time (or `time_answer`), the key's rights, a key request."""

    def script(method: str, path: str) -> Answer:
        if path == "/1.0/auth/time":
            return time_answer or (200, {}, int(time.time()))
        if path == "/1.0/auth/currentCredential":
            return 200, {}, credential or {"status": "validated", "rules": []}
        if path == "/1.0/auth/credential":
            return 200, {}, created
        if path == "/1.0/dedicatedCloud":
            return 200, {}, listing if listing is not None else []
        return 404, {}, {"message": "not here"}

    return script


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert "Low HTTP" not in err and "Error(" not in err and "Traceback" not in err
    return err.strip()


@pytest.fixture
def consumer_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVH_CONSUMER_KEY", "sim-ck-readonly")


@pytest.mark.parametrize("action", ["check", "request"])
@pytest.mark.parametrize(
    ("time_answer", "words"),
    [
        ((200, {}, "abc"), "GET /auth/time answered 'abc', not the time: not the OVHcloud API"),
        (
            (200, {"Content-Type": "text/html"}, b"<!doctype html><p>Sign in</p>"),
            "GET /auth/time answered a web page (HTML), not the time: not the OVHcloud API",
        ),
        (
            (200, {"Content-Type": "text/plain"}, b"abc"),
            "GET /auth/time answered something else than JSON (text/plain), not the time: not "
            "the OVHcloud API",
        ),
    ],
)
@pytest.mark.slow
def test_an_endpoint_whose_time_is_not_a_time_is_not_the_api(
    capsys: pytest.CaptureFixture[str],
    consumer_key: None,
    action: str,
    time_answer: Answer,
    words: str,
) -> None:
    with scripted_api(answers(time_answer)) as (url, seen):
        assert main(["auth", action, "--endpoint", url]) == 2
    assert one_error_line(capsys) == f"ovh-license-audit: error: --endpoint {url}: {words}" + (
        " (a proxy's login page, or a wrong URL?)" if "JSON" in words or "HTML" in words else ""
    )
    assert seen.requests == ["GET /1.0/auth/time"]  # nothing signed was sent


@pytest.mark.parametrize("action", ["check", "request"])
def test_an_unreachable_endpoint_is_said_in_words(
    capsys: pytest.CaptureFixture[str], consumer_key: None, action: str
) -> None:
    url = "http://127.0.0.1:9/1.0"  # the discard port: nothing listens there
    assert main(["auth", action, "--endpoint", url]) == 2
    assert one_error_line(capsys) == (
        f"ovh-license-audit: error: cannot reach {url}: Connection refused"
    )


@pytest.mark.parametrize("created", [{"validationUrl": "https://x/"}, None, ["consumerKey"]])
def test_a_key_request_answered_without_a_consumer_key_is_one_line(
    capsys: pytest.CaptureFixture[str], created: Any
) -> None:
    with scripted_api(answers(created=created)) as (url, _):
        assert main(["auth", "request", "--endpoint", url]) == 2
    assert one_error_line(capsys) == (
        f"ovh-license-audit: error: --endpoint {url}: POST /auth/credential answered without "
        "a consumerKey: not the OVHcloud API, or it refused the request without saying why"
    )


def test_auth_request_needs_only_the_application_key_and_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OVH_APPLICATION_SECRET")
    with scripted_api(answers()) as (url, _):
        assert main(["auth", "request", "--endpoint", url]) == 2
    line = one_error_line(capsys)
    assert "OVH_APPLICATION_KEY and OVH_APPLICATION_SECRET" in line
    assert "set OVH_CONSUMER_KEY" not in line and "OVH_CONSUMER_KEY," not in line


def test_a_key_not_validated_points_at_the_validation_url(
    simulator: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    request_key(simulator, capsys)  # requested, never validated
    out = request_key(simulator, capsys)
    key_line = out.index(next(line for line in out if "shown only this once" in line))
    monkeypatch.setenv("OVH_CONSUMER_KEY", out[key_line + 1].strip())
    assert main(["auth", "check", "--endpoint", simulator.url]) == 2
    line = one_error_line(capsys)
    assert "This credential is not valid" in line
    assert "validation URL `auth request` printed" in line and "credentialToken=" in line


HOSTILE = "\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07\r\x1b[2J"


def test_text_from_the_api_is_printed_with_its_control_characters_escaped(
    capsys: pytest.CaptureFixture[str], consumer_key: None
) -> None:
    credential = {
        "status": f"validated{HOSTILE}",
        "creation": HOSTILE,
        "expiration": f"2030-01-01{HOSTILE}",
        "rules": [{"method": f"GET{HOSTILE}", "path": f"/dedicatedCloud/*{HOSTILE}"}],
    }
    created = {"consumerKey": f"ck{HOSTILE}", "validationUrl": f"https://x/{HOSTILE}"}
    with scripted_api(answers(credential=credential, created=created)) as (url, _):
        assert main(["auth", "check", "--endpoint", url]) == 0
        checked = capsys.readouterr()
        assert main(["auth", "request", "--endpoint", url]) == 0
        requested = capsys.readouterr()
    for text in (checked.out, checked.err, requested.out, requested.err):
        assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert "validated\\u001b]8;;https://evil.example/\\u0007click" in checked.out
    assert "ck\\u001b]8;;" in requested.out


def test_rules_that_are_not_a_list_are_a_warning_not_an_empty_list(
    capsys: pytest.CaptureFixture[str], consumer_key: None, tmp_path: Path
) -> None:
    credential = {"status": "validated", "rules": "GET /*"}
    with scripted_api(answers(credential=credential)) as (url, _):
        assert main(["auth", "check", "--endpoint", url]) == 0
        checked = capsys.readouterr()
        snapshot = tmp_path / "snapshot.json.gz"
        assert main(["snapshot", "--endpoint", url, "--out", str(snapshot)]) == 0
        collected = capsys.readouterr()
    warning = (
        "ovh-license-audit: warning: the consumer key's rules could not all be read "
        "(GET /auth/currentCredential: rules given as str, not a list)"
    )
    assert warning in checked.err.splitlines()
    assert warning in collected.err.splitlines()  # every run says so too


def test_the_warnings_of_a_run_escape_the_apis_text(
    capsys: pytest.CaptureFixture[str], consumer_key: None, tmp_path: Path
) -> None:
    credential = {
        "status": "validated",
        "expiration": f"2000-01-01T00:00:00+00:00{HOSTILE}",
        "rules": [{"method": f"POST{HOSTILE}", "path": "/*"}],
    }
    with scripted_api(answers(credential=credential)) as (url, _):
        snapshot = tmp_path / "snapshot.json.gz"
        assert main(["snapshot", "--endpoint", url, "--out", str(snapshot)]) == 0
    err = capsys.readouterr().err
    assert "may do more than read (POST\\u001b]8;;" in err
    assert "\x1b" not in err and "\x07" not in err and "\r" not in err


@pytest.mark.parametrize("command", [["auth", "check"], ["auth", "request"], ["run"]])
def test_help_states_the_default_endpoint(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    assert "else ovh-eu" in " ".join(capsys.readouterr().out.split())
