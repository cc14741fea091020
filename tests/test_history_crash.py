"""A run or an observation killed at any step leaves the folder and the history agreeing once
the next command starts (audit/history/publish.py): the trial's SIGKILL between the run
folder's swap and the history's COMMIT left the folder with the new run and the history with
the old one, and `report RUN_DIR` then dropped an auditor's imported review."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from audit.cli.main import main
from audit.history.publish import mend_folder
from audit.history.store import HISTORY_FILE
from audit.model.snapshot import write_snapshot
from tests.helpers.history import PROD, STD, WIN, snapshot
from tests.helpers.review import columns, edit, row_of
from tests.helpers.vms import api_vm

PERIOD = "2026-11"
BEFORE = {(PROD, 1): [api_vm(1, WIN, STD), api_vm(2, WIN, None)]}
AFTER = {(PROD, 1): [api_vm(1, WIN, STD), api_vm(2, WIN, None), api_vm(3, WIN, STD)]}

# Stops the child (as SIGKILL would: no cleanup at all) when a publication reaches `step`.
KILL_AT_STEP = """
import audit.history.publish as publish
def stop(step):
    if step == {step!r}:
        os._exit(9)
publish.STEPS.append(stop)
"""
# Stops the child between the two renames of the run folder's swap: the old folder is aside
# (`.2026-11.previous`), the new one still pending.
KILL_BETWEEN_RENAMES = """
import pathlib
rename = pathlib.Path.rename
def stop(self, target):
    if self.name.endswith(".pending") and self.is_dir():
        os._exit(9)
    return rename(self, target)
pathlib.Path.rename = stop
"""
# Stops the child once both renames are done, as it starts removing the old folder set aside.
KILL_REMOVING_THE_OLD_FOLDER = """
import shutil
rmtree = shutil.rmtree
def stop(path, *args, **kwargs):
    if str(path).endswith(".previous") and os.path.isdir(path):
        os._exit(9)
    return rmtree(path, *args, **kwargs)
shutil.rmtree = stop
"""
STEPS = ["staged", "committed", "between renames", "removing the old folder", "moved"]


def child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = (
        f"import os, sys\n{code}\nfrom audit.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120
    )


def killer(step: str) -> str:
    if step == "between renames":
        return KILL_BETWEEN_RENAMES
    if step == "removing the old folder":
        return KILL_REMOVING_THE_OLD_FOLDER
    return KILL_AT_STEP.format(step=step)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored(folder: Path, name: str, fleet: Any, taken_at: str) -> Path:
    path = folder / f"{name}.json.gz"
    write_snapshot(snapshot(fleet, taken_at), path)
    return path


def run_args(path: Path, out: Path, period: str = PERIOD) -> list[str]:
    args = ["run", "--from-snapshot", str(path), "--out", str(out), "--period", period]
    return [*args, "--fail-on", "never"]


def observe_args(path: Path, out: Path, *extra: str) -> list[str]:
    return ["observe", "--from-snapshot", str(path), "--out", str(out), *extra]


def agreement(out: Path) -> dict[str, str]:
    """Every run folder and observation file against the history: the snapshot sha256 each
    holds, after checking they agree; nothing pending is left."""
    with sqlite3.connect(out / HISTORY_FILE) as db:
        runs = dict(db.execute("SELECT period, snapshot_sha256 FROM run"))
        days = dict(db.execute("SELECT day, snapshot_sha256 FROM observation"))
        pending = db.execute("SELECT pending FROM pending_move").fetchall()
    assert pending == []
    held: dict[str, str] = {}
    for period, digest in runs.items():
        document = json.loads((out / period / "findings.json").read_text())
        assert document["run"]["snapshot_sha256"] == digest, period
        assert sha256(out / period / "snapshot.json.gz") == digest, period
        held[period] = digest
    for day, digest in days.items():
        assert sha256(out / "observations" / f"{day}.json.gz") == digest, day
        held[day] = digest
    leftovers = [path.name for folder in (out, out / "observations") for path in folder.iterdir()]
    assert not [name for name in leftovers if name.startswith(".")], leftovers
    return held


@pytest.fixture
def reviewed(tmp_path: Path) -> tuple[Path, Path]:
    """November run from BEFORE, an auditor's review of VM 2 imported; AFTER ready to run."""
    out = tmp_path / "out"
    assert main(run_args(stored(tmp_path, "before", BEFORE, "2026-11-20T02:00:00Z"), out)) == 0
    review = {(2, "WIN-UNLICENSED"): ("accepted", "j.doe", "licence ordered")}
    edited = edit(out / PERIOD / "report.xlsx", tmp_path / "edited.xlsx", review)
    assert main(["import-review", str(edited), "--history", str(out / HISTORY_FILE)]) == 0
    return out, stored(tmp_path, "after", AFTER, "2026-11-21T02:00:00Z")


def review_of_vm_2(run_dir: Path) -> tuple[Any, Any]:
    sheet = load_workbook(run_dir / "report.xlsx")["Findings"]
    header = columns(sheet)
    row = row_of(sheet, 2, "WIN-UNLICENSED")
    return sheet.cell(row, header["Review status"]).value, sheet.cell(row, header["Owner"]).value


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("then", ["report", "observe", "run"])
def test_a_run_killed_at_any_step_agrees_after_the_next_start(
    reviewed: tuple[Path, Path], tmp_path: Path, step: str, then: str
) -> None:
    out, after = reviewed
    before = json.loads((out / PERIOD / "findings.json").read_text())["run"]["snapshot_sha256"]
    killed = child(killer(step), *run_args(after, out))
    assert killed.returncode == 9, killed.stderr
    # The next command, whatever it is, mends before it reads anything.
    if then == "report":
        assert main(["report", str(out / PERIOD)]) == 0
    elif then == "observe":
        other = stored(tmp_path, "other", AFTER, "2026-11-22T02:00:00Z")
        assert main(observe_args(other, out)) == 0
    else:
        other = stored(tmp_path, "october", BEFORE, "2026-10-20T02:00:00Z")
        assert main(run_args(other, out, "2026-10")) == 0
    held = agreement(out)
    # Killed before the COMMIT: nothing happened. After it: the new run, whole.
    expected = before if step == "staged" else sha256(after)
    assert held[PERIOD] == expected
    if step == "staged":
        assert "2026-11-21" not in held
        return
    assert held["2026-11-21"] == sha256(after)
    # The new run was given the auditor's review: its reports keep it, rebuilt or not.
    assert review_of_vm_2(out / PERIOD) == ("accepted", "j.doe")


@pytest.mark.slow
@pytest.mark.parametrize("step", ["staged", "committed", "moved"])
def test_an_observation_killed_at_any_step_agrees_after_the_next_start(
    tmp_path: Path, step: str
) -> None:
    out = tmp_path / "out"
    first = stored(tmp_path, "first", BEFORE, "2026-11-05T02:00:00Z")
    second = stored(tmp_path, "second", AFTER, "2026-11-05T09:00:00Z")
    assert main(observe_args(first, out)) == 0
    killed = child(killer(step), *observe_args(second, out))
    assert killed.returncode == 9, killed.stderr
    mend_folder(out)
    held = agreement(out)
    assert held["2026-11-05"] == sha256(first if step == "staged" else second)


@pytest.mark.slow
def test_a_writer_waits_for_the_one_still_moving_its_items(tmp_path: Path) -> None:
    """A mend never moves what a living writer is moving: it waits for the writer's lock."""
    out = tmp_path / "out"
    first = stored(tmp_path, "first", BEFORE, "2026-11-05T02:00:00Z")
    assert main(observe_args(first, out)) == 0
    slow = (
        "import time\n"
        + "import audit.history.publish as publish\n"
        + "publish.STEPS.append(lambda step: step == 'committed' and time.sleep(1.5))\n"
    )
    second = stored(tmp_path, "second", AFTER, "2026-11-05T09:00:00Z")
    script = (
        f"import os, sys\n{slow}\nfrom audit.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script, *observe_args(second, out)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the writer has committed
            with sqlite3.connect(out / HISTORY_FILE) as db:
                if db.execute("SELECT count(*) FROM pending_move").fetchone()[0]:
                    break
            time.sleep(0.02)
        third = stored(tmp_path, "third", AFTER, "2026-11-06T02:00:00Z")
        assert main(observe_args(third, out)) == 0
    finally:
        assert writer.wait(timeout=60) == 0
    held = agreement(out)
    assert held["2026-11-05"] == sha256(second)


@pytest.mark.slow
def test_random_sigkills_of_run_and_observe_always_leave_folder_and_history_agreeing(
    tmp_path: Path,
) -> None:
    """The trial's loop (it disagreed once in about 80 kills), bounded: each `run` or `observe`
    is killed after a random delay; after the next start's mend, folder and history agree."""
    out = tmp_path / "out"
    inputs = [
        stored(tmp_path, "before", BEFORE, "2026-11-20T02:00:00Z"),
        stored(tmp_path, "after", AFTER, "2026-11-20T09:00:00Z"),
    ]
    assert main(run_args(inputs[0], out)) == 0
    chooser = random.Random(19)
    start = time.monotonic()
    for attempt in range(40):
        if time.monotonic() - start > 120:
            break
        path = inputs[attempt % 2]
        args = run_args(path, out) if chooser.random() < 0.6 else observe_args(path, out)
        process = subprocess.Popen(
            [sys.executable, "-m", "audit", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(chooser.uniform(0.3, 2.5))
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        mend_folder(out)
        agreement(out)
