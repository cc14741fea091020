"""How a run ends as a process: signals, a reader that stops early, the umask, bad input."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.bench.fleets import snapshot_of
from audit.cli.main import main
from audit.model.snapshot import write_snapshot
from audit.simulator.generate import generate_fleet
from audit.support.fsutil import staged_directory

PERIOD = "2026-11"


@pytest.fixture(scope="module")
def snapshot_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("snapshot") / "snapshot.json.gz"
    write_snapshot(snapshot_of(generate_fleet(60, seed=7).fleet), path)
    return path


def run_args(snapshot: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--from-snapshot", str(snapshot), "--out", str(out), "--period", PERIOD, *extra]


def hidden(out: Path) -> list[str]:
    return sorted(path.name for path in out.iterdir() if path.name.startswith("."))


def run_process(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`code` then the CLI with `args`, in a child Python whose SIGINT is Python's default."""
    script = (
        "import os, signal, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        f"{code}\n"
        "from audit.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120
    )


# Sends the signal to itself when the workbook writer has appended 40 rows.
KILL_WHILE_WRITING_WORKBOOK = """
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
append, rows = WriteOnlyWorksheet.append, []
def counting(self, row):
    rows.append(1)
    if len(rows) == 40:
        os.kill(os.getpid(), signal.{signal})
    return append(self, row)
WriteOnlyWorksheet.append = counting
"""


@pytest.mark.slow
@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_while_the_workbook_is_written_is_one_line_and_no_leftover(
    snapshot_file: Path, tmp_path: Path, name: str, code: int
) -> None:
    out = tmp_path / "out"
    assert main(run_args(snapshot_file, out, "--fail-on", "never")) == 0
    before = (out / PERIOD / "findings.json").read_bytes()
    result = run_process(
        KILL_WHILE_WRITING_WORKBOOK.format(signal=name),
        *run_args(snapshot_file, out, "--fail-on", "never", "--period", "2026-10"),
    )
    assert result.returncode == code
    assert result.stderr == "ovh-license-audit: interrupted\n"
    assert hidden(out) == []
    assert not (out / "2026-10").exists()
    assert (out / PERIOD / "findings.json").read_bytes() == before


# Each removal of a folder (the cleanup of the interrupted run) brings one more SIGTERM, as
# coreutils `timeout` does (it signals the process and then its group).
ANOTHER_SIGNAL_DURING_CLEANUP = """
import shutil, gc
rmtree, collect = shutil.rmtree, gc.collect
def rmtree_signalled(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)
    return rmtree(*args, **kwargs)
def collect_signalled(*args):
    os.kill(os.getpid(), signal.SIGTERM)
    return collect(*args)
shutil.rmtree, gc.collect = rmtree_signalled, collect_signalled
"""


def test_more_signals_during_the_cleanup_still_end_in_one_line_and_143(
    snapshot_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = run_process(
        KILL_WHILE_WRITING_WORKBOOK.format(signal="SIGTERM") + ANOTHER_SIGNAL_DURING_CLEANUP,
        *run_args(snapshot_file, out, "--fail-on", "never"),
    )
    assert result.returncode == 143
    assert result.stderr == "ovh-license-audit: interrupted\n"
    assert hidden(out) == []
    assert not (out / PERIOD).exists()


def test_sigterm_in_process_cleans_up_and_exits_143(
    snapshot_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import audit.job

    rendering = audit.job.rendering

    @contextlib.contextmanager
    def killed(*args: object) -> Iterator[None]:
        os.kill(os.getpid(), signal.SIGTERM)
        with rendering(*args):  # type: ignore[arg-type]
            yield

    monkeypatch.setattr(audit.job, "rendering", killed)
    previous = signal.getsignal(signal.SIGTERM)
    assert main(run_args(snapshot_file, tmp_path)) == 143
    assert capsys.readouterr().err == "ovh-license-audit: interrupted\n"
    assert hidden(tmp_path) == []
    assert not (tmp_path / PERIOD).exists()
    assert signal.getsignal(signal.SIGTERM) is previous


@pytest.fixture
def held_staging(tmp_path: Path) -> Iterator[Path]:
    """A staging folder of PERIOD that this process is still writing."""

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), staged_directory(tmp_path / PERIOD) as stage:
        yield stage
        raise Abandon


@pytest.mark.slow
@pytest.mark.parametrize("new_in_place", [False, True])
def test_a_swap_a_killed_run_left_half_done_is_mended(
    snapshot_file: Path, tmp_path: Path, new_in_place: bool
) -> None:
    """SIGKILL between the two renames: the good run folder waits aside as `.PERIOD.previous`."""
    assert main(run_args(snapshot_file, tmp_path, "--fail-on", "never")) == 0
    final, aside = tmp_path / PERIOD, tmp_path / f".{PERIOD}.previous"
    manifest = (final / "manifest.json").read_bytes()
    if new_in_place:  # killed after the new folder was renamed in, before the old one went
        shutil.copytree(final, aside)
    else:  # killed after the old folder was renamed aside
        final.rename(aside)
    with pytest.raises(RuntimeError), staged_directory(final):
        raise RuntimeError("the next run fails before it writes anything")
    assert (final / "manifest.json").read_bytes() == manifest
    assert not aside.exists()


def test_stale_staging_folders_are_swept_and_held_ones_kept(
    snapshot_file: Path, tmp_path: Path, held_staging: Path
) -> None:
    stale = tmp_path / f".{PERIOD}.0123abcd.staging"
    (stale / "remediation").mkdir(parents=True)
    (stale / "findings.json").write_text("{}")
    other = tmp_path / ".2026-10.0123abcd.staging"  # another period's: not this run's to sweep
    other.mkdir()
    assert main(run_args(snapshot_file, tmp_path, "--fail-on", "never")) == 0
    assert hidden(tmp_path) == sorted([held_staging.name, other.name])
    assert held_staging.is_dir()


@pytest.mark.slow
def test_a_reader_that_stops_early_keeps_the_run_exit_code(
    snapshot_file: Path, tmp_path: Path
) -> None:
    for extra, expected in ((("--fail-on", "never"), 0), ((), 1)):
        out = tmp_path / f"out-{expected}"
        child = subprocess.Popen(
            [sys.executable, "-m", "audit", *run_args(snapshot_file, out, *extra)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert child.stdout is not None and child.stderr is not None
        child.stdout.close()  # like `| head -0`: the reader is gone before the first line
        err = child.stderr.read().decode()
        assert child.wait(timeout=120) == expected, err
        assert err == ""
        assert (out / PERIOD / "manifest.json").is_file()


@pytest.mark.slow
def test_every_file_and_folder_follows_the_umask(snapshot_file: Path, tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        assert main(run_args(snapshot_file, tmp_path, "--fail-on", "never")) == 0
        assert main(["report", str(tmp_path / PERIOD)]) == 0
    finally:
        os.umask(previous)
    modes = {
        path.relative_to(tmp_path).as_posix(): stat.S_IMODE(path.stat().st_mode)
        for path in [tmp_path / PERIOD, *(tmp_path / PERIOD).rglob("*")]
    }
    expected = {
        name: 0o750 if (tmp_path / name).is_dir() or name.endswith(".py") else 0o640
        for name in modes
    }
    assert modes == expected


def test_snapshot_whose_taken_at_is_not_a_date_is_an_input_error(
    snapshot_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(gzip.decompress(snapshot_file.read_bytes()))
    data["run"]["taken_at"] = "last tuesday"
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(gzip.compress(json.dumps(data).encode()))
    assert main(run_args(bad, tmp_path / "out")) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert str(bad) in err[0] and "run.taken_at" in err[0] and "'last tuesday'" in err[0]
    assert not (tmp_path / "out").exists()


def test_the_history_file_follows_the_umask_too(snapshot_file: Path, tmp_path: Path) -> None:
    previous = os.umask(0o002)
    try:
        assert main(run_args(snapshot_file, tmp_path, "--fail-on", "never")) == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "history.sqlite").stat().st_mode) == 0o664
