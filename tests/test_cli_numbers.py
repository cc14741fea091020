"""Numbers from flags and the TOML file: NaN, infinities and absurd values are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.cli.main import main
from audit.config.settings import load_config
from audit.support.errors import InputError


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--max-rps", "nan"),
        ("--max-rps", "inf"),
        ("--max-rps", "-inf"),
        ("--max-rps", "0"),
        ("--max-rps", "1e-9"),
        ("--max-rps", "0.09"),
        ("--max-rps", "1e6"),
        ("--workers", "0"),
        ("--workers", "100000"),
        ("--workers", "nan"),
    ],
)
@pytest.mark.parametrize("command", ["run", "snapshot"])
def test_flags_refuse_non_finite_and_out_of_range_numbers(
    capsys: pytest.CaptureFixture[str], command: str, flag: str, value: str, tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([command, "--out", str(tmp_path / "out"), f"{flag}={value}"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert f"argument {flag}: expected a number from" in error
    assert repr(value) in error


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("max_rps = nan", "audit.max_rps"),
        ("max_rps = inf", "audit.max_rps"),
        ("max_rps = 0.01", "audit.max_rps"),
        ("max_rps = 1e9", "audit.max_rps"),
        ("workers = 0", "audit.workers"),
        ("workers = 100000", "audit.workers"),
        ("max_retries = -1", "audit.max_retries"),
        ("max_retries = 1000", "audit.max_retries"),
        ("retry_base_delay_s = nan", "audit.retry_base_delay_s"),
        ("retry_base_delay_s = inf", "audit.retry_base_delay_s"),
        ("retry_base_delay_s = -1", "audit.retry_base_delay_s"),
        ("retry_base_delay_s = 1e9", "audit.retry_base_delay_s"),
        ("deadline_s = 0", "audit.deadline_s"),
        ("deadline_s = nan", "audit.deadline_s"),
        ("deadline_s = inf", "audit.deadline_s"),
    ],
)
def test_config_refuses_non_finite_and_out_of_range_numbers(
    tmp_path: Path, line: str, key: str
) -> None:
    config = tmp_path / "audit.toml"
    config.write_text(f"[audit]\n{line}\n")
    with pytest.raises(InputError) as caught:
        load_config(config)
    assert str(caught.value).startswith(f"{config}: {key}: expected a number from ")


def test_range_limits_are_accepted(tmp_path: Path) -> None:
    config = tmp_path / "audit.toml"
    config.write_text(
        "[audit]\nmax_rps = 0.1\nworkers = 64\nmax_retries = 0\nretry_base_delay_s = 0\n"
    )
    loaded = load_config(config)
    assert (loaded.max_rps, loaded.workers, loaded.max_retries) == (0.1, 64, 0)
    assert loaded.retry_base_delay_s == 0.0


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--vms", "0"),
        ("--vms", "-5"),
        ("--vms", "many"),
        ("--latency-ms", "-1"),
        ("--latency-ms", "nan"),
        ("--latency-ms", "inf"),
    ],
)
def test_demo_refuses_a_fleet_of_no_vm_and_a_latency_that_is_no_duration(
    capsys: pytest.CaptureFixture[str], flag: str, value: str, tmp_path: Path
) -> None:
    """Before: a traceback for --vms 0 or -5 and --latency-ms -1, a hang for nan."""
    with pytest.raises(SystemExit) as stopped:
        main(["demo", "--out", str(tmp_path / "demo"), f"{flag}={value}"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert f"argument {flag}: expected a number from" in error and repr(value) in error
    assert not (tmp_path / "demo").exists()
