"""Exit code 5: an unexpected error ends in one line naming the cause and the file holding the
traceback (never a traceback on stderr, never exit 1, nothing half-written)."""

from __future__ import annotations

import errno
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import audit.cli.run
import audit.job
from audit.bench.fleets import snapshot_of
from audit.cli.main import main
from audit.history.observations import OBSERVATIONS_DIR
from audit.model.snapshot import write_snapshot
from audit.render.xlsx import XlsxReport
from audit.simulator.generate import generate_fleet
from audit.support import crash


def run_args(snapshot: Path, out: Path) -> list[str]:
    return ["run", "--from-snapshot", str(snapshot), "--out", str(out), "--period", "2026-11"]


@pytest.fixture(scope="module")
def snapshot_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 60-VM fleet's snapshot."""
    path = tmp_path_factory.mktemp("snapshot") / "snapshot.json.gz"
    write_snapshot(snapshot_of(generate_fleet(60, seed=7).fleet), path)
    return path


@pytest.fixture(autouse=True)
def no_folder_noted() -> None:
    crash.note_output_folder(None)


def one_crash_line(err: str) -> tuple[str, Path]:
    """The single stderr line, and the traceback file it names."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    line = lines[0]
    assert line.startswith("ovh-license-audit: error: unexpected error: ")
    assert "exit 5" in line
    named = line.split("traceback in ", 1)[1].split(" (exit 5", 1)[0]
    path = Path(named)
    assert path.is_file()
    assert "Traceback (most recent call last)" in path.read_text()
    return line, path


def leftovers(out: Path) -> list[str]:
    """What the failed run left in the output folder, but the history, the crash file and the
    observations' folder when it holds nothing (the day's file was never moved in)."""
    return sorted(
        path.name
        for path in out.iterdir()
        if path.name != "history.sqlite"
        and not path.name.startswith(crash.PREFIX)
        and not (path.name == OBSERVATIONS_DIR and not any(path.iterdir()))
    )


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "report.xlsx"), "the disk is full"),
        (OSError(errno.EFBIG, "File too large", "report.xlsx"), "larger than the system allows"),
        (MemoryError(), "out of memory"),
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
        (AttributeError("'str' object has no attribute 'get'"), "AttributeError: 'str' object"),
    ],
)
def test_an_unexpected_error_while_writing_is_exit_5_and_nothing_half_written(
    snapshot_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: BaseException,
    words: str,
) -> None:
    def fails(self: XlsxReport, run: object, path: Path) -> None:
        path.write_bytes(b"half a workbook")
        raise error

    monkeypatch.setattr(XlsxReport, "render", fails)
    out = tmp_path / "out"
    assert main(run_args(snapshot_file, out)) == 5
    line, traceback_file = one_crash_line(capsys.readouterr().err)
    assert words in line
    assert traceback_file.parent == out  # the run's output folder
    assert leftovers(out) == []  # no run folder, no staging folder


def test_the_traceback_goes_to_a_temporary_file_when_no_folder_is_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object) -> None:
        raise KeyError("defect")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(audit.cli.run, "period_arg", broken)  # before --out is known
    assert main(["run", "--from-snapshot", "nowhere.json.gz"]) == 5
    _, traceback_file = one_crash_line(capsys.readouterr().err)
    assert traceback_file.parent == tmp_path


def test_no_secret_reaches_the_line_or_the_traceback_file(
    snapshot_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = "s3cr3t-application-secret"
    monkeypatch.setenv("OVH_APPLICATION_SECRET", secret)

    def leaks(*args: object) -> None:
        raise RuntimeError(f"signature of {secret} failed")

    monkeypatch.setattr(audit.job, "evaluate", leaks)
    assert main(run_args(snapshot_file, tmp_path)) == 5
    line, traceback_file = one_crash_line(capsys.readouterr().err)
    assert secret not in line and "RuntimeError: signature of *** failed" in line
    text = traceback_file.read_text()
    assert secret not in text and "signature of *** failed" in text


def test_an_output_folder_the_user_may_not_write_stays_exit_2(
    snapshot_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def refused(*args: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr(audit.job, "rendering", refused)
    assert main(run_args(snapshot_file, tmp_path)) == 2
    assert (
        capsys.readouterr().err
        == f"ovh-license-audit: error: {tmp_path / 'x'}: Permission denied\n"
    )


FILE_SIZE_LIMIT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
from audit.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def big_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fleet whose findings.json (about 1.2 MB) and workbook parts are large."""
    path = tmp_path_factory.mktemp("big") / "snapshot.json.gz"
    write_snapshot(snapshot_of(generate_fleet(3000, seed=7).fleet), path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("limit", [300_000, 1_300_000])
def test_a_file_size_limit_ulimit_f_is_exit_5_with_one_line(
    tmp_path: Path, big_snapshot: Path, limit: int
) -> None:
    """`ulimit -f`: Python gets EFBIG (or, at the larger limit, lxml's IO_EFBIG while the
    workbook is written) instead of being killed by SIGXFSZ; nothing is half-written."""
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-c", FILE_SIZE_LIMIT.format(limit=limit), *run_args(big_snapshot, out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 5, result.stderr
    line, _ = one_crash_line(result.stderr)
    assert "larger than the system allows" in line
    assert leftovers(out) == []
