"""`--rollback` of a dry run's results says plainly there is nothing to roll back (exit 2), in the
tool and in the generated remediate.py, which also takes its endpoint from OVH_ENDPOINT."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.cli.main import main
from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
    REMEDIATE_CONSUMER_KEY,
    SimulatorConfig,
)
from audit.simulator.generate import generate_fleet
from audit.simulator.server import Simulator

CREDENTIALS = {
    "OVH_APPLICATION_KEY": DEFAULT_APPLICATION_KEY,
    "OVH_APPLICATION_SECRET": DEFAULT_APPLICATION_SECRET,
    "OVH_CONSUMER_KEY": READONLY_CONSUMER_KEY,
}


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Simulator]:
    monkeypatch.chdir(tmp_path)
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with Simulator(generate_fleet(30, 3).fleet, SimulatorConfig(task_seconds=0.01)) as running:
        yield running


@pytest.fixture
def run_dir(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> Path:
    args = ["run", "--endpoint", sim.url, "--out", "runs", "--fail-on", "never"]
    assert main([*args, "--max-rps", "1000"]) == 0
    capsys.readouterr()
    (folder,) = Path("runs").glob("20*")
    return folder


def remediate(sim: Simulator, *args: str) -> int:
    return main(["remediate", "--endpoint", sim.url, *args])


@pytest.mark.slow
def test_the_rollback_of_a_dry_run_is_refused_in_one_line(
    sim: Simulator, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = str(run_dir / "remediation" / "plan.json")
    assert remediate(sim, plan, "--results-dir", "dry") == 0
    (dry,) = Path("dry").glob("remediation-dry-run-*.csv")
    assert "would-apply" in dry.read_text()
    capsys.readouterr()
    code = remediate(sim, "--rollback", str(dry), "--apply", "--results-dir", "undo")
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"ovh-license-audit: error: {dry}: the results of a dry run, which changed nothing: "
        "there is nothing to roll back (roll back the remediation-apply-*.csv an --apply run "
        "wrote)\n"
    )
    assert not Path("undo").exists()  # nothing run, nothing written


@pytest.mark.slow
def test_an_apply_that_changed_nothing_rolls_back_to_nothing(
    sim: Simulator,
    run_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OVH_CONSUMER_KEY", REMEDIATE_CONSUMER_KEY)
    plan = str(run_dir / "remediation" / "plan.json")
    assert remediate(sim, plan, "--apply", "--max-changes", "0", "--results-dir", "capped") == 0
    (applied,) = Path("capped").glob("remediation-apply-*.csv")
    capsys.readouterr()
    assert remediate(sim, "--rollback", str(applied), "--apply", "--results-dir", "undo") == 0
    assert "0 setLicense, 0 removeLicense, 0 manual" in capsys.readouterr().out


def script(run_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("OVH_")}
    return subprocess.run(
        [sys.executable, str(run_dir / "remediation" / "remediate.py"), *args],
        capture_output=True,
        text=True,
        env={**clean, **CREDENTIALS, **env},
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_the_script_takes_a_url_from_ovh_endpoint_and_refuses_a_dry_run_rollback(
    sim: Simulator, run_dir: Path
) -> None:
    dry = script(run_dir, "--results-dir", "script-dry", OVH_ENDPOINT=sim.url)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing will be changed" in dry.stdout
    (results,) = Path("script-dry").glob("remediation-dry-run-*.csv")
    refused = script(run_dir, "--rollback", str(results), "--apply", OVH_ENDPOINT=sim.url)
    assert refused.returncode == 2
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"remediate.py: error: {results}: the results of a dry run")
    assert "nothing to roll back" in line
