"""`demo` end to end on a small fleet: what `make demo` shows a new user must keep working."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from audit.cli.main import main


@pytest.mark.slow
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
    printed = capsys.readouterr().out
    last_lines = [line.strip() for line in printed.splitlines()[-4:]]
    assert last_lines == [
        str(out / period / name) for period in periods for name in ("report.html", "report.xlsx")
    ]
    assert all(Path(path).stat().st_size > 0 for path in last_lines)
    # The second month's report went by mail to a local server; the message is kept as .eml.
    saved = out / "mail" / f"{periods[1]}.eml"
    assert f"  the message as received: {saved}\n" in printed
    message = message_from_bytes(saved.read_bytes(), policy=policy.default)
    assert message["Subject"].startswith(f"Windows licence audit {periods[1]}: ")
    assert [part.get_filename() for part in message.iter_attachments()] == [
        "report.xlsx",
        "report.html",
    ]
