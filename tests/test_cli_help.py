"""Help texts, usage errors from the right parser, --period sanity, progress off a terminal."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from audit.cli.main import main
from audit.collect.progress import Progress


def help_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--help"])
    assert stopped.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", ["run", "observe", "snapshot"])
def test_api_commands_say_where_credentials_come_from(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """(Each command's exit codes: tests/test_cli_contract.py.)"""
    text = help_of(capsys, command)
    for variable in ("OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY"):
        assert variable in text
    assert "ovh.conf" in text and "ovh_config" in text


def test_report_explains_its_argument(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys, "report")
    assert "RUN_DIR     a run folder" in " ".join(text.split("\n"))


@pytest.mark.parametrize(
    "argv",
    [["run"], ["snapshot", "--out", "s"], ["report", "r"], ["simulate", "--generate", "1"]],
)
def test_unknown_argument_is_reported_by_the_subcommand(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    command = argv[0]
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--bogus"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"usage: ovh-license-audit {command} ")
    assert f"ovh-license-audit {command}: error: unrecognized arguments: --bogus" in error


@pytest.mark.parametrize("period", ["0000-01", "1999-12", "20261-01", "2026-00", "2026-1"])
def test_nonsense_periods_are_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], period: str, tmp_path: Path
) -> None:
    code = main(["run", "--period", period, "--from-snapshot", str(tmp_path / "x")])
    assert code == 2
    expected = (
        f"--period {period!r}: expected YYYY-MM from 2000 (e.g. 2026-11), current or previous"
    )
    assert capsys.readouterr().err == f"ovh-license-audit: error: {expected}\n"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_off_a_terminal_logs_a_line_every_interval() -> None:
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(enabled=True, stream=stream, clock=clock, log_every_s=30)
    progress.update(calls=3, vms_listed=100)
    clock.now += 29
    progress.update(calls=10, vms_fetched=5)
    assert stream.getvalue() == ""  # nothing before the first interval
    clock.now += 1
    progress.update(calls=11, vms_fetched=1)
    clock.now += 10
    progress.update(calls=12, vms_fetched=1)
    clock.now += 25
    progress.update(calls=40, vms_fetched=30)
    clock.now += 5
    progress.close()
    assert stream.getvalue().splitlines() == [
        "collecting: 6/100 VMs, 11 calls after 30s",
        "collecting: 37/100 VMs, 40 calls after 65s",
        "collected: 37/100 VMs, 40 calls in 70s",
    ]


def test_short_collection_off_a_terminal_prints_nothing() -> None:
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(enabled=True, stream=stream, clock=clock, log_every_s=30)
    progress.update(calls=3, vms_listed=10, vms_fetched=10)
    clock.now += 5
    progress.close()
    assert stream.getvalue() == ""
