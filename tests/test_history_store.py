"""The history file: schema migrations, files that are not ours, concurrent writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from audit.history.store import (
    APPLICATION_ID,
    HISTORY_FILE,
    MIGRATIONS,
    SCHEMA_VERSION,
    HistoryBusyError,
    HistoryStore,
)
from audit.model.snapshot import write_snapshot
from audit.support.errors import ExitCode, InputError
from tests.helpers.history import PROD, WIN, WIN_CLIENT, by_vm, snapshot
from tests.helpers.history import run_month as job
from tests.helpers.history_versions import VERSION_1_SCHEMA, VERSION_6_UNDONE, version_1_file
from tests.helpers.vms import api_vm

FLEET = {
    (PROD, 1): [
        api_vm(1, WIN, None),
        api_vm(2, WIN_CLIENT, None),
        api_vm(3, WIN, "windows 2019 Standard"),
    ]
}


def integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def schema(db: sqlite3.Connection) -> list[tuple[str, str]]:
    """Every table and index, by name, with its SQL with whitespace normalised."""
    rows = db.execute("SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
    return [(name, " ".join(sql.split())) for name, sql in rows]


def test_the_first_migration_still_creates_the_version_1_schema() -> None:
    """Editing a released migration would leave files in the field on another schema."""
    frozen, migrated = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    try:
        for statement in VERSION_1_SCHEMA:
            frozen.execute(statement)
        MIGRATIONS[0](migrated)
        assert schema(migrated) == schema(frozen)
        assert migrated.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    finally:
        frozen.close()
        migrated.close()


@pytest.mark.slow
def test_migrates_a_version_1_file_and_keeps_its_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    version_1_file(out / HISTORY_FILE)
    with HistoryStore.open(out / HISTORY_FILE) as store:
        assert store.schema_version == SCHEMA_VERSION == 6
        [january] = store.runs_before("2026-02", 12)
    assert january.counts("open_by_severity") == {"high": 1, "medium": 0, "low": 0, "info": 0}
    assert january.summary["by_status"] == {"open": 1, "byol": 1}
    # The next run compares with the migrated January.
    feb = job(out, "2026-02", FLEET).report.to_json()
    found = by_vm(feb)
    assert found[(1, "WIN-UNLICENSED")]["change"] == "persisting"
    assert found[(1, "WIN-UNLICENSED")]["first_seen"] == {"period": "2026-01", "date": "2026-01-01"}
    assert found[(2, "WIN-CLIENT-OS")]["change"] == "persisting"
    assert ("licence_set", 3) not in {(e["event"], e["vm_id"]) for e in feb["changes"]}
    assert [e["event"] for e in feb["changes"]] == ["vm_added", "vm_added"]
    assert integrity(out / HISTORY_FILE) == "ok"


# What version 6 added, undone: a file of this version made one of an older version.
def test_migrates_a_version_3_file_and_records_shortfalls_from_then_on(tmp_path: Path) -> None:
    """Version 4 adds the shortfalls: a run recorded before it has none to list; the runs
    after it record theirs and the next period lists them until they are settled."""
    out = tmp_path / "out"
    job(out, "2026-01", FLEET)  # VM 1: a Windows server running unlicensed, a shortfall
    db = sqlite3.connect(out / HISTORY_FILE, isolation_level=None)
    db.execute("DROP TABLE shortfall")
    db.execute("DROP TABLE shortfall_review")
    for statement in VERSION_6_UNDONE:
        db.execute(statement)
    db.execute("DROP TABLE remediation_action")  # and version 5's, back to a version 3 file
    db.execute("DROP TABLE remediation")
    db.execute("ALTER TABLE run DROP COLUMN plan_sha256")
    db.execute("PRAGMA user_version = 3")
    db.close()
    with HistoryStore.open(out / HISTORY_FILE) as store:
        assert store.schema_version == SCHEMA_VERSION == 6
        assert store.unsettled_shortfalls("2026-02") == ()
        assert store.periods() == ["2026-01"]
    feb = job(out, "2026-02", FLEET).report
    assert feb.unsettled_shortfalls == ()
    assert [item.vm_id for item in feb.shortfalls] == [1]
    [unsettled] = job(out, "2026-03", FLEET).report.unsettled_shortfalls
    assert (unsettled.period, unsettled.shortfall.vm_id, unsettled.review_status) == (
        "2026-02",
        1,
        None,
    )
    assert integrity(out / HISTORY_FILE) == "ok"


def test_a_fresh_file_is_at_the_latest_version_in_wal_mode(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / HISTORY_FILE) as store:
        assert store.schema_version == SCHEMA_VERSION
    db = sqlite3.connect(tmp_path / HISTORY_FILE)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p.write_bytes(b"this is not a database at all" * 100), "not a readable"),
        (
            lambda p: sqlite3.connect(p).execute("CREATE TABLE other (x)").connection.commit(),
            "not a history file",
        ),
        (
            lambda p: sqlite3.connect(p).execute("PRAGMA user_version = 99").connection.commit(),
            "newer",
        ),
    ],
    ids=["garbage", "foreign-sqlite", "newer-version"],
)
def test_files_that_are_not_ours_are_input_errors(
    tmp_path: Path, setup: object, message: str
) -> None:
    path = tmp_path / HISTORY_FILE
    setup(path)  # type: ignore[operator]
    with pytest.raises(InputError, match=message) as caught:
        HistoryStore.open(path).close()
    assert caught.value.exit_code == ExitCode.INPUT
    assert str(path) in str(caught.value)


def test_a_held_lock_fails_the_run_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    job(out, "2026-01", FLEET)
    holder = sqlite3.connect(out / HISTORY_FILE, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(HistoryBusyError, match="busy") as caught:
            job(out, "2026-02", FLEET, wait_s=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # An InputError: the command line prints it as one line and exits 2.
    assert caught.value.exit_code == ExitCode.INPUT
    assert "\n" not in str(caught.value)
    assert not (out / "2026-02").exists()
    with HistoryStore.open(out / HISTORY_FILE) as store:
        assert store.periods() == ["2026-01"]
    assert integrity(out / HISTORY_FILE) == "ok"


@pytest.mark.slow
def test_a_run_waits_for_a_held_lock(tmp_path: Path) -> None:
    out = tmp_path / "out"
    job(out, "2026-01", FLEET)
    holder = sqlite3.connect(out / HISTORY_FILE, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, lambda: holder.execute("ROLLBACK"))
    release.start()
    try:
        started = time.monotonic()
        job(out, "2026-02", FLEET, wait_s=30)
        assert time.monotonic() - started >= 0.4  # it waited for the lock, then ran
    finally:
        release.join()
        holder.close()
    with HistoryStore.open(out / HISTORY_FILE) as store:
        assert store.periods() == ["2026-01", "2026-02"]


@pytest.mark.slow
def test_two_threads_writing_at_once_both_succeed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    errors: list[BaseException] = []

    def month(period: str) -> None:
        try:
            job(out, period, FLEET)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=month, args=(p,)) for p in ("2026-01", "2026-02")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with HistoryStore.open(out / HISTORY_FILE) as store:
        assert store.periods() == ["2026-01", "2026-02"]
    assert integrity(out / HISTORY_FILE) == "ok"


@pytest.mark.slow
def test_two_processes_writing_at_once_both_succeed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    source = tmp_path / "snapshot.json.gz"
    write_snapshot(snapshot(FLEET, "2026-01-01T00:00:00Z"), source)
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "audit",
                "run",
                "--from-snapshot",
                str(source),
                "--out",
                str(out),
                "--period",
                period,
                "--fail-on",
                "never",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for period in ("2026-01", "2026-02", "2026-03")
    ]
    results = [(process.wait(timeout=60), process.stderr) for process in processes]
    assert [code for code, _ in results] == [0, 0, 0], [e.read() for _, e in results if e]
    for _, stderr in results:
        assert stderr is not None
        stderr.close()
    with HistoryStore.open(out / HISTORY_FILE) as store:
        assert store.periods() == ["2026-01", "2026-02", "2026-03"]
    assert integrity(out / HISTORY_FILE) == "ok"
