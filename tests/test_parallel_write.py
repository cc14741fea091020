"""The workbook is written in its own process beside the other outputs: the run folder is
byte for byte what a sequential write makes, and a failure there leaves nothing behind."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import audit.job
from audit.bench.fleets import snapshot_of
from audit.cli.main import main
from audit.collect.source import SnapshotSource
from audit.history.publish import mend_folder
from audit.job import JobSpec, run_job
from audit.model.period import Period
from audit.model.snapshot import write_snapshot
from audit.render.xlsx import XlsxReport
from audit.run_folder import MANIFEST_FILE, load_run_with_history, render_all, renderers
from audit.simulator.generate import generate_fleet
from audit.support.forked import can_fork

pytestmark = [
    pytest.mark.slow,  # whole runs, a forked process each
    pytest.mark.skipif(not can_fork(), reason="no fork on this platform"),
]


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "snapshot.json.gz"
    write_snapshot(snapshot_of(generate_fleet(300, seed=5).fleet), path)
    return path


def files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_parallel_and_sequential_writes_are_byte_identical(snapshot: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    for period in ("2026-10", "2026-11"):  # the second run has a history: a Changes sheet
        args = ["run", "--from-snapshot", str(snapshot), "--out", str(out), "--period", period]
        assert main([*args, "--fail-on", "never"]) == 0
    run_dir = out / "2026-11"
    run = load_run_with_history(run_dir)
    assert run.history.previous is not None
    written = {}
    for parallel in (False, True):
        folder = tmp_path / f"parallel-{parallel}"
        folder.mkdir()
        render_all(run, folder, parallel=parallel)
        written[parallel] = files(folder)
    names = {renderer.filename for renderer in renderers()}
    assert set(written[False]) == names
    assert written[True] == written[False]
    # The job's own (parallel) write of the same run, too.
    job = files(run_dir)
    assert {name: job[name] for name in names} == written[False]


def spec(snapshot: Path, out: Path) -> JobSpec:
    return JobSpec(
        out_dir=out,
        period=Period(2026, 11),
        source=SnapshotSource(from_file=snapshot),
        fail_on="never",
    )


def test_an_error_in_the_workbook_process_is_raised_and_nothing_is_written(
    snapshot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = os.getpid()

    def failing(self: XlsxReport, run: object, path: Path) -> None:
        assert os.getpid() != parent  # the workbook is written in another process
        raise ValueError("no workbook today")

    monkeypatch.setattr(XlsxReport, "render", failing)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="no workbook today"):
        run_job(spec(snapshot, out))
    assert not (out / "2026-11").exists()
    assert [path.name for path in out.iterdir() if path.name.startswith(".")] == []


def test_a_workbook_process_that_dies_is_an_error_naming_it(
    snapshot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dying(self: XlsxReport, run: object, path: Path) -> None:
        os._exit(9)

    monkeypatch.setattr(XlsxReport, "render", dying)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match=r"report\.xlsx: its process ended with code 9"):
        run_job(spec(snapshot, out))
    assert not (out / "2026-11").exists()


def test_the_manifest_lists_the_workbook_written_beside(snapshot: Path, tmp_path: Path) -> None:
    result = run_job(spec(snapshot, tmp_path / "out"))
    manifest = (result.run_dir / MANIFEST_FILE).read_text(encoding="utf-8")
    assert '"report.xlsx"' in manifest


# The workbook's process says what it holds, then takes its time.
SLOW_WORKBOOK = """
import json, os, sys, time
from pathlib import Path
from audit.render.xlsx import XlsxReport
def link(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # the listing's own
        return ""
def slow(self, run, path):
    held = [
        name for name in map(link, os.listdir("/proc/self/fd"))
        if ".pending" in name or ".staging" in name
    ]
    Path(sys.argv[1]).write_text(json.dumps({"pid": os.getpid(), "held": held}))
    time.sleep(120)
XlsxReport.render = slow
from audit.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_a_job_killed_while_its_workbook_is_written_leaves_no_process_and_no_lock(
    snapshot: Path, tmp_path: Path
) -> None:
    out, said = tmp_path / "out", tmp_path / "workbook.json"
    args = ["run", "--from-snapshot", str(snapshot), "--out", str(out), "--period", "2026-11"]
    job = subprocess.Popen([sys.executable, "-c", SLOW_WORKBOOK, str(said), *args])
    try:
        deadline = time.monotonic() + 60
        while not said.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # the file is whole
        workbook = json.loads(said.read_text())
    finally:
        job.kill()
        job.wait(timeout=60)
    # The workbook's process held no descriptor of the run's folders (their locks are the
    # job's, gone with it), and ends with the job.
    assert workbook["held"] == []
    deadline = time.monotonic() + 10
    while alive(workbook["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(workbook["pid"])
    mend_folder(out)
    assert [path.name for path in out.iterdir() if path.name.startswith(".")] == []
    assert not (out / "2026-11").exists()


def test_the_job_sets_its_inputs_aside_from_the_collector_while_it_runs_only(
    snapshot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen: list[int] = []
    evaluate = audit.job.evaluate

    def counting(*args: Any, **kwargs: Any) -> Any:
        frozen.append(gc.get_freeze_count())
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(audit.job, "evaluate", counting)
    run_job(spec(snapshot, tmp_path / "out"))
    assert frozen[0] > 1000  # the snapshot, its inventory and the VMs' states
    assert gc.get_freeze_count() == 0
