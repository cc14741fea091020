"""`demo` end to end on a small fleet: what `make demo` shows a new user must keep working."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.cli import main


def test_demo_runs_two_months_and_the_applied_plan_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert (
        main(["demo", "--vms", "150", "--seed", "7", "--latency-ms", "0", "--out", str(out)]) == 0
    )
    periods = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name[:2] == "20")
    assert len(periods) == 2
    first, second = (json.loads((out / p / "findings.json").read_text()) for p in periods)
    assert second["previous_run"]["period"] == periods[0]
    fixed = [gone for gone in second["resolved"] if gone["reason"] == "fixed"]
    assert fixed, "the first month's applied plan must resolve findings in the second"
    assert {event["event"] for event in second["changes"]} >= {"licence_set", "vm_added"}
    assert len(first["findings"]) > 0
    last_lines = [line.strip() for line in capsys.readouterr().out.splitlines()[-4:]]
    assert last_lines == [
        str(out / period / name) for period in periods for name in ("report.html", "report.xlsx")
    ]
    assert all(Path(path).stat().st_size > 0 for path in last_lines)
