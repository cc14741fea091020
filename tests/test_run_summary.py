"""The console summary of `run` ends with the verdict, where the period's figures come from
(the observations under this --out, with their count, or the snapshot alone and why) and,
with [prices], the monthly costs."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from audit.cli.main import main
from audit.simulator.api import (
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
)
from audit.simulator.generate import generate_fleet
from audit.simulator.server import Simulator

PRICES = """
[prices]
currency = "EUR"
"windows 2022 Standard" = 30.00
"windows 2019 Standard" = 25.50
"""


@pytest.fixture(scope="module")
def snapshot_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One collection of a generated fleet, shared by the runs below (--from-snapshot)."""
    path = tmp_path_factory.mktemp("snapshot") / "snapshot.json.gz"
    with pytest.MonkeyPatch.context() as patch, Simulator(generate_fleet(40, 7).fleet) as sim:
        patch.setenv("OVH_APPLICATION_KEY", DEFAULT_APPLICATION_KEY)
        patch.setenv("OVH_APPLICATION_SECRET", DEFAULT_APPLICATION_SECRET)
        patch.setenv("OVH_CONSUMER_KEY", READONLY_CONSUMER_KEY)
        args = ["snapshot", "--endpoint", sim.url, "--out", str(path), "--max-rps", "1000"]
        assert main(args) == 0
    return path


def taken_day(snapshot: Path) -> date:
    taken = json.loads(gzip.decompress(snapshot.read_bytes()))["run"]["taken_at"]
    return datetime.fromisoformat(taken.replace("Z", "+00:00")).date()


def previous_month() -> str:
    first = datetime.now(UTC).date().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def summary_tail(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["run", *args])
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("verdict: "))
    return code, lines[start:]


@pytest.mark.slow
def test_a_run_with_no_observation_of_its_period_says_the_snapshot_alone_and_why(
    capsys: pytest.CaptureFixture[str], snapshot_file: Path, tmp_path: Path
) -> None:
    out, period = tmp_path / "monthly", previous_month()
    args = ["--from-snapshot", str(snapshot_file), "--out", str(out), "--period", period]
    code, tail = summary_tail(capsys, *args)
    assert code == 1
    assert tail[0].startswith("verdict: FAIL: ")
    assert tail[0].endswith("of severity high (--fail-on high).")
    assert tail[1:] == [
        f"period figures: the snapshot alone (taken {taken_day(snapshot_file)}, outside "
        f"{period}): no daily observation of {period} in {out / 'history.sqlite'}; "
        f"`observe --out {out}` records one every day"
    ]


def test_observations_under_the_same_out_are_counted(
    capsys: pytest.CaptureFixture[str], snapshot_file: Path, tmp_path: Path
) -> None:
    out, period = tmp_path / "audit", previous_month()
    for day in ("01", "02", "04"):
        observed = ["observe", "--from-snapshot", str(snapshot_file), "--out", str(out)]
        assert main([*observed, "--date", f"{period}-{day}"]) == 0
    capsys.readouterr()
    args = ["--from-snapshot", str(snapshot_file), "--out", str(out), "--period", period]
    code, tail = summary_tail(capsys, *args, "--fail-on", "never")
    assert code == 0
    days = (date.fromisoformat(f"{period}-01").replace(day=28) + timedelta(days=4)).replace(
        day=1
    ) - timedelta(days=1)
    assert tail == [
        "verdict: No threshold: the run was made with --fail-on never.",
        f"period figures: 3 daily observation(s) of the {days.day} days of {period}, from "
        f"{out / 'history.sqlite'}; {days.day - 3} missing",
    ]


def test_costs_close_the_summary_when_prices_are_set(
    capsys: pytest.CaptureFixture[str], snapshot_file: Path, tmp_path: Path
) -> None:
    config = tmp_path / "audit.toml"
    config.write_text(PRICES, encoding="utf-8")
    args = ["--from-snapshot", str(snapshot_file), "--out", str(tmp_path / "out")]
    code, tail = summary_tail(capsys, *args, "--config", str(config))
    document = json.loads(next((tmp_path / "out").glob("*/findings.json")).read_text())
    costs = document["costs"]
    assert tail[0].startswith("verdict: ")
    assert tail[1].startswith("period figures: 1 daily observation(s)")
    assert "(this run's own day included)" in tail[1]
    assert tail[2] == "monthly costs ([prices]):"
    assert [line.split()[0] for line in tail[3:]] == [
        "billed",
        "shortfall",
        "declarations",
        "unlicensed",
        "licences",
    ]
    for line, cost in zip(tail[3:], costs, strict=True):
        assert f"{float(cost['amount']):,.2f} EUR" in line
        assert f"({cost['priced_vms']} VM(s)" in line
        if cost["unpriced_vms"]:
            assert f"{cost['unpriced_vms']} VM(s) without a price: " in line
    assert code in (0, 1)
    # The first page states what was billed and the shortfall at the prices, and the unit.
    page = next((tmp_path / "out").glob("*/report.html")).read_text(encoding="utf-8")
    first = page[page.index('<section id="position"') : page.index('<section id="executive"')]
    billed = next(cost for cost in costs if cost["key"] == "billed")
    assert f"<strong>billed</strong>: {float(billed['amount']):,.2f} EUR" in first
    assert "<strong>shortfall</strong>" in first and "prices per VM and month" in first
