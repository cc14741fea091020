"""A damaged history file is the user's file that is damaged: one line naming the file and what
is wrong, exit 2, never a traceback (the trial: a dropped table, random bytes, a states blob
x'00ff00', coverage 'not json'). Reading it for an analyst (`audit.frames.observations`)
never migrates it, and a read-only mount is no raw OSError."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from audit import frames
from audit.cli.main import main
from audit.history.store import HISTORY_FILE, HistoryStore
from audit.model.snapshot import write_snapshot
from audit.support.errors import InputError
from tests.helpers.folders import copy_of
from tests.helpers.history import PROD, STD, WIN, snapshot
from tests.helpers.history_versions import version_1_file
from tests.helpers.vms import api_vm

FLEET = {(PROD, 1): [api_vm(1, WIN, STD), api_vm(2, WIN, None)]}


def sql(*statements: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        db = sqlite3.connect(path, isolation_level=None)
        try:
            for statement in statements:
                db.execute(statement)
        finally:
            db.close()

    return damage


def random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(32 * 1024))
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)


DAMAGE = {
    "dropped observation table": (sql("DROP TABLE observation"), "observation"),
    "dropped run table": (sql("DROP TABLE run"), "run"),
    "random bytes": (random_bytes, "not a readable history file"),
    "states blob x'00ff00'": (sql("UPDATE observation SET states = x'00ff00'"), "2026-11-02"),
    "coverage 'not json'": (sql("UPDATE observation SET coverage = 'not json'"), "2026-11-02"),
    "run coverage 'not json'": (sql("UPDATE run SET coverage = 'not json'"), "2026-10"),
}
# What each command reads: `observe` records a day (the days stored before are not read), a
# rebuild reads no run or review (the run folder's history.json has what its reports show);
# a damage they do not read does not stop them.
UNREAD = {
    "observe": {"dropped run table", "states blob x'00ff00'", "coverage 'not json'"},
    "report": {"dropped observation table", "states blob x'00ff00'", "coverage 'not json'"},
}
UNREAD["observe"].add("run coverage 'not json'")
UNREAD["report"] |= {"run coverage 'not json'", "dropped run table"}


@pytest.fixture(scope="module")
def october_and_two_days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output folder with October's run and two observed days of November (built once)."""
    tmp_path = tmp_path_factory.mktemp("history")
    out = tmp_path / "out"
    path = tmp_path / "oct.json.gz"
    write_snapshot(snapshot(FLEET, "2026-10-05T02:00:00Z"), path)
    args = ["run", "--from-snapshot", str(path), "--out", str(out), "--period", "2026-10"]
    assert main([*args, "--fail-on", "never"]) == 0
    for day in ("2026-11-02", "2026-11-03"):
        path = tmp_path / f"{day}.json.gz"
        write_snapshot(snapshot(FLEET, f"{day}T02:00:00Z"), path)
        assert main(["observe", "--from-snapshot", str(path), "--out", str(out)]) == 0
    return out


@pytest.fixture
def history(october_and_two_days: Path, tmp_path: Path) -> Path:
    """This test's own copy of the output folder, to damage."""
    return copy_of(october_and_two_days, tmp_path / "out")


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("command", ["run", "observe", "report"])
def test_a_damaged_history_is_one_line_and_exit_2(
    history: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: str,
    command: str,
) -> None:
    harm, what = DAMAGE[damage]
    harm(history / HISTORY_FILE)
    capsys.readouterr()
    path = tmp_path / "nov.json.gz"
    write_snapshot(snapshot(FLEET, "2026-11-04T02:00:00Z"), path)
    if command == "run":
        args = ["run", "--from-snapshot", str(path), "--out", str(history), "--period", "2026-11"]
    elif command == "observe":
        args = ["observe", "--from-snapshot", str(path), "--out", str(history)]
    else:
        args = ["report", str(history / "2026-10")]
    code = main(args)
    err = capsys.readouterr().err
    if damage in UNREAD.get(command, ()):
        assert code == 0, err
        return
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("ovh-license-audit: error: ")
    assert str(history / HISTORY_FILE) in err and what in err
    assert "Traceback" not in err
    assert not (history / "2026-11").exists()


def test_a_state_id_that_no_state_has_is_damage(history: Path) -> None:
    db = sqlite3.connect(history / HISTORY_FILE, isolation_level=None)
    db.execute("DELETE FROM vm_state WHERE vm_id = 2")
    db.close()
    with (
        pytest.raises(InputError, match="2026-11-02") as caught,
        HistoryStore.open(history / HISTORY_FILE) as store,
    ):
        store.observations("2026-11-01", "2026-11-30")
    assert str(history / HISTORY_FILE) in str(caught.value)


def test_frames_observations_reads_without_migrating(tmp_path: Path) -> None:
    """The trial: `frames.observations()` (documented read-only) migrated a v2 history."""
    out = tmp_path / "out"
    out.mkdir()
    version_1_file(out / HISTORY_FILE)
    with sqlite3.connect(out / HISTORY_FILE) as db:
        db.execute("PRAGMA user_version = 1")
    before = (out / HISTORY_FILE).read_bytes()
    frame = frames.observations(out)
    assert frame.empty  # a history from before observations has none
    assert (out / HISTORY_FILE).read_bytes() == before
    with sqlite3.connect(out / HISTORY_FILE) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert sorted(path.name for path in out.iterdir()) == [HISTORY_FILE]


def test_frames_observations_reads_an_older_schema_with_observations(history: Path) -> None:
    db = sqlite3.connect(history / HISTORY_FILE, isolation_level=None)
    db.execute("PRAGMA user_version = 4")
    db.close()
    frame = frames.observations(history, "2026-11")
    assert sorted(set(frame["day"])) == ["2026-11-02", "2026-11-03"]
    with sqlite3.connect(history / HISTORY_FILE) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 4


def test_frames_observations_of_a_damaged_history_is_an_input_error(history: Path) -> None:
    sql("UPDATE observation SET states = x'00ff00'")(history / HISTORY_FILE)
    with pytest.raises(InputError, match="the observation of 2026-11-02"):
        frames.observations(history, "2026-11")


READ_ON_A_READ_ONLY_MOUNT = """
import sys
from audit import frames
from audit.support.errors import InputError
try:
    frame = frames.observations(sys.argv[1], "2026-11")
except InputError as exc:
    print("InputError", exc)
    sys.exit(2)
print(sorted(set(frame["day"])))
"""


def test_frames_observations_on_a_read_only_mount(history: Path, tmp_path: Path) -> None:
    """A history on a read-only mount (a bind mount in a mount namespace of our own)."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1) to make a read-only mount")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("user namespaces are not available to make a read-only mount")
    folder = str(history)
    script = (
        f"mount --bind {folder} {folder} && mount -o remount,ro,bind {folder} && "
        f'exec "$0" -c "$1" {folder}'
    )
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, sys.executable, READ_ON_A_READ_ONLY_MOUNT],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.strip() == "['2026-11-02', '2026-11-03']"
    assert "Traceback" not in result.stderr
