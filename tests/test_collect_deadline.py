"""A collection has an overall deadline, and a signal ends it at once, even in a pause."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audit.cli.main import main
from audit.collect.collector import DEADLINE_BASE_S, CollectOptions, deadline
from tests.helpers.api import Answer, scripted_api, server_time

PERIOD = "2026-11"
CREDENTIAL = {"status": "validated", "rules": [{"method": "GET", "path": "/dedicatedCloud/*"}]}


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no ovh.conf of the machine's
    monkeypatch.setenv("OVH_APPLICATION_KEY", "app-key")
    monkeypatch.setenv("OVH_APPLICATION_SECRET", "app-secret")
    monkeypatch.setenv("OVH_CONSUMER_KEY", "consumer-key")


def throttled_for_ever(retry_after: str) -> object:
    """Time and the key's rights as the API gives them; every other call answered 429."""

    def script(method: str, path: str) -> Answer:
        if (answer := server_time(method, path)) is not None:
            return answer
        if path == "/1.0/auth/currentCredential":
            return 200, {}, CREDENTIAL
        return 429, {"Retry-After": retry_after}, {"message": "Too many requests"}

    return script


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["flag", "config"])
def test_a_server_answering_429_for_ever_ends_at_the_deadline_with_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """Retry-After: 1e9 (honoured up to 300 s a pause, five retries) no longer keeps a run
    for 25 minutes: at the deadline, what is unread is recorded as such."""
    out = tmp_path / "out"
    with scripted_api(throttled_for_ever("1e9")) as (url, _):  # type: ignore[arg-type]
        args = ["run", "--endpoint", url, "--out", str(out), "--period", PERIOD]
        if where == "flag":
            args += ["--deadline", "1"]
        else:
            config = tmp_path / "audit.toml"
            config.write_text("[audit]\ndeadline_s = 1\n")
            args += ["--config", str(config)]
        code = main(args)
    assert code == 3
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("ovh-license-audit: warning: the collection's deadline passed")
    assert err[-1] == (
        f"ovh-license-audit: error: {PERIOD}: nothing was read from {url} (GET /dedicatedCloud: "
        "the collection's deadline passed (1 s; --deadline or deadline_s)); nothing written"
    )
    assert not (out / PERIOD).exists()


def test_the_default_deadline_grows_with_the_calls_and_the_pace() -> None:
    options = CollectOptions(max_rps=100)
    assert deadline(options, 0) == DEADLINE_BASE_S == 600
    assert deadline(options, 5_000) == 600 + 5_000  # one call a second, the pace's floor
    assert deadline(CollectOptions(max_rps=0.5), 100) == 600 + 100 * 2  # slower: 1/max_rps
    assert deadline(CollectOptions(deadline_s=30), 5_000) == 30


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "1e9"])
def test_a_deadline_out_of_range_is_a_usage_error(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_code:
        main(["run", "--deadline", value])
    assert exit_code.value.code == 2
    assert "--deadline: expected a number from 1 to 604800" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_sigterm_during_a_retry_after_pause_ends_the_run_at_once(tmp_path: Path) -> None:
    """Retry-After: 120 pauses every worker; SIGTERM wakes them instead of waiting it out."""
    out = tmp_path / "out"
    with scripted_api(throttled_for_ever("120")) as (url, seen):  # type: ignore[arg-type]
        child = subprocess.Popen(
            [sys.executable, "-m", "audit", "run", "--endpoint", url, "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        try:
            for _ in range(600):  # the first 429: the walk now pauses for 120 s
                if seen.count("/1.0/dedicatedCloud") or child.poll() is not None:
                    break
                time.sleep(0.05)
            time.sleep(0.3)
            child.send_signal(signal.SIGTERM)
            _, err = child.communicate(timeout=30)  # far less than the 120 s pause
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert child.returncode == 143, err
    assert err == "ovh-license-audit: interrupted\n"
    assert not out.exists() or not (out / PERIOD).exists()
