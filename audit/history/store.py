"""DIR/history.sqlite: every run, each VM's state and each finding, and the auditors' reviews.

One SQLite file (stdlib sqlite3) in WAL mode, so readers never block the writer. The schema
is versioned with `PRAGMA user_version` and upgraded by numbered migrations, each in its own
transaction; `PRAGMA application_id` marks the file as ours.

Concurrency: a writer takes SQLite's write lock (`BEGIN IMMEDIATE`) and holds it for the
whole write; another writer waits for it up to `wait_s` seconds (SQLite's busy timeout),
then fails with HistoryBusyError (exit 2, nothing written). SQLite's locking and journal
keep the file consistent whatever happens to either process.

The files beside it that a record describes (a run folder, a day's observation file) are
moved into place after the COMMIT that records them (audit/history/publish.py): every write
transaction first finishes the moves a killed writer committed but did not make, so the
folder and the history agree again before anything is read.

A damaged file (a table dropped, a blob or JSON column overwritten, random bytes) is an
InputError naming the file and what is wrong, never a traceback. `open_read` reads without
creating, migrating or writing anything (an analyst's notebook, a read-only mount).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np

from audit.evaluate.rules import win_unlicensed
from audit.history.changes import Baseline, ComparedRun, VmState
from audit.history.observations import (
    OBSERVATIONS_DIR,
    ObservationRecord,
    Observations,
    ObservedDay,
    StateRow,
    encode_ids,
    state_row,
)
from audit.history.review import ReviewRow, ReviewSheet, ShortfallReviewRow
from audit.history.trend import StoredCounts
from audit.model import identity
from audit.model.exposure import Shortfall, UnsettledShortfall
from audit.model.history import CarriedReview, FindingRecord, Review, Sighting
from audit.model.identity import VmKey
from audit.model.remediation import COUNTED, RemediationApplied, RemediationRecord
from audit.model.snapshot import Coverage, Unread
from audit.model.workbook import SETTLED
from audit.support.errors import InputError
from audit.support.fsutil import finish_pending, sweep_pending
from audit.support.gcpause import paused_collection
from audit.support.jsontypes import JSONObject

HISTORY_FILE = "history.sqlite"
APPLICATION_ID = 0x4F4C4148  # "OLAH": ovh-license-audit history
DEFAULT_WAIT_S = 300.0


def shortfall_fingerprint(shortfall: Shortfall) -> str:
    """A shortfall is reviewed as its WIN-UNLICENSED finding: by that finding's fingerprint."""
    return identity.fingerprint(*shortfall.key, win_unlicensed.META.id)


class HistoryBusyError(InputError):
    """Another process held the history file's write lock for longer than we wait."""


def _statements(*sql: str) -> Callable[[sqlite3.Connection], None]:
    def run(db: sqlite3.Connection) -> None:
        for statement in sql:
            db.execute(statement)

    return run


# Version 1: runs, VM states and findings.
_V1 = _statements(
    """CREATE TABLE run (
        id INTEGER PRIMARY KEY,
        period TEXT NOT NULL UNIQUE,
        taken_at TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        snapshot_sha256 TEXT NOT NULL,
        coverage TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    )""",
    """CREATE TABLE vm (
        run_id INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
        service_name TEXT NOT NULL,
        datacenter_id INTEGER NOT NULL,
        vm_id INTEGER NOT NULL,
        name TEXT,
        guest_os_family TEXT,
        license TEXT,
        power_state TEXT,
        vcpus INTEGER,
        PRIMARY KEY (run_id, service_name, datacenter_id, vm_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE finding (
        run_id INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        severity TEXT NOT NULL,
        status TEXT NOT NULL,
        service_name TEXT NOT NULL,
        datacenter_id INTEGER,
        vm_id INTEGER,
        vm_name TEXT,
        message TEXT NOT NULL,
        PRIMARY KEY (run_id, fingerprint)
    ) WITHOUT ROWID""",
    "CREATE INDEX finding_by_fingerprint ON finding (fingerprint, run_id)",
    f"PRAGMA application_id = {APPLICATION_ID}",
)


def _v2(db: sqlite3.Connection) -> None:
    """Version 2: per-run summary counts (trend, deltas) and the auditors' reviews.

    Runs recorded by version 1 get their summary rebuilt from their stored findings (one per
    fingerprint, so duplicates of a fingerprint count once there).
    """
    _statements(
        "ALTER TABLE run ADD COLUMN summary TEXT NOT NULL DEFAULT '{}'",
        """CREATE TABLE review (
            fingerprint TEXT PRIMARY KEY,
            status TEXT,
            owner TEXT,
            comment TEXT,
            period TEXT,
            source TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            imported_by TEXT NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE run_review (
            run_id INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
            fingerprint TEXT NOT NULL,
            review TEXT NOT NULL,
            PRIMARY KEY (run_id, fingerprint)
        ) WITHOUT ROWID""",
    )(db)
    run_ids = [row[0] for row in db.execute("SELECT id FROM run")]
    for run_id in run_ids:
        summary: dict[str, dict[str, int]] = {
            key: {} for key in ("by_severity", "open_by_severity", "by_rule", "by_status")
        }
        summary["by_service"] = {}
        rows = db.execute(
            "SELECT severity, status, rule_id, service_name FROM finding WHERE run_id = ?",
            (run_id,),
        )
        for severity, status, rule_id, service in rows:
            for key, value in (
                ("by_severity", severity),
                ("by_rule", rule_id),
                ("by_status", status),
                ("by_service", service),
            ):
                summary[key][value] = summary[key].get(value, 0) + 1
            if status == "open":
                opened = summary["open_by_severity"]
                opened[severity] = opened.get(severity, 0) + 1
        db.execute("UPDATE run SET summary = ? WHERE id = ?", (_dump(summary), run_id))


# Version 3: daily observations (audit/history/observations.py): each distinct VM state once,
# each day the compressed ids of the states it saw.
_V3 = _statements(
    """CREATE TABLE vm_state (
        id INTEGER PRIMARY KEY,
        service_name TEXT NOT NULL,
        datacenter_id INTEGER NOT NULL,
        vm_id INTEGER NOT NULL,
        name TEXT,
        guest_os_family TEXT,
        license TEXT,
        power_state TEXT,
        vcpus INTEGER
    )""",
    """CREATE TABLE observation (
        id INTEGER PRIMARY KEY,
        day TEXT NOT NULL UNIQUE,
        taken_at TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        source TEXT NOT NULL,
        snapshot_sha256 TEXT NOT NULL,
        coverage TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        vms INTEGER NOT NULL,
        states BLOB NOT NULL
    )""",
)

# Version 4: each run's shortfalls (Windows servers that ran unbilled in its period) and their
# reviews per period, so later runs list every earlier shortfall not reviewed `settled`. Runs
# recorded before it have no shortfall stored: nothing of theirs is listed.
_V4 = _statements(
    """CREATE TABLE shortfall (
        run_id INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,
        service_name TEXT NOT NULL,
        datacenter_id INTEGER NOT NULL,
        vm_id INTEGER NOT NULL,
        vm_name TEXT,
        guest_os_family TEXT,
        days_unlicensed INTEGER NOT NULL,
        PRIMARY KEY (run_id, fingerprint)
    ) WITHOUT ROWID""",
    """CREATE TABLE shortfall_review (
        period TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        status TEXT,
        owner TEXT,
        comment TEXT,
        source TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        imported_by TEXT NOT NULL,
        PRIMARY KEY (period, fingerprint)
    ) WITHOUT ROWID""",
)

# Version 5: remediation results (audit/remediate/record.py): each results file applied, with
# its plan's sha256, the period whose plan it is and each action's outcome; and each run's plan
# sha256, by which a results file finds its run. Runs recorded before it have none (NULL).
_V5 = _statements(
    "ALTER TABLE run ADD COLUMN plan_sha256 TEXT",
    """CREATE TABLE remediation (
        id INTEGER PRIMARY KEY,
        plan_sha256 TEXT NOT NULL,
        period TEXT NOT NULL,
        results_sha256 TEXT NOT NULL UNIQUE,
        results_file TEXT NOT NULL,
        source TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        applied INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        pending INTEGER NOT NULL,
        skipped INTEGER NOT NULL,
        capped INTEGER NOT NULL,
        manual INTEGER NOT NULL,
        not_attempted INTEGER NOT NULL,
        recorded_at TEXT NOT NULL
    )""",
    """CREATE TABLE remediation_action (
        remediation_id INTEGER NOT NULL REFERENCES remediation (id) ON DELETE CASCADE,
        line INTEGER NOT NULL,
        service_name TEXT NOT NULL,
        datacenter_id INTEGER,
        vm_id INTEGER,
        vm_name TEXT,
        rule_id TEXT NOT NULL,
        action TEXT NOT NULL,
        target_license TEXT,
        previous_license TEXT,
        license_after TEXT,
        outcome TEXT NOT NULL,
        task_id INTEGER,
        message TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (remediation_id, line)
    ) WITHOUT ROWID""",
)


def _v6(db: sqlite3.Connection) -> None:
    """Version 6: one account per history, observations that prove themselves, and one
    recoverable step for a record and the files it describes.

    - `account_service`: the services of the account the folder belongs to (the first run or
      observation records them, with its endpoint). A file from before it takes its runs'
      services, or without a run its observations'.
    - `observation.calls`: the API calls of the collection (NULL for the days before).
      `source` becomes one of `observe`, `observe --date`, `observe --from-snapshot`, `run`
      (the days recorded before: `observe`, or `run` for `run YYYY-MM`).
    - `pending_move`: a pending file or folder a committed record describes, until it is in
      place (paths relative to the history's folder).
    """
    _statements(
        "ALTER TABLE observation ADD COLUMN calls INTEGER",
        "UPDATE observation SET source = 'run' WHERE source LIKE 'run %'",
        """CREATE TABLE account_service (
            service_name TEXT PRIMARY KEY,
            endpoint TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE pending_move (
            pending TEXT PRIMARY KEY,
            final TEXT NOT NULL
        ) WITHOUT ROWID""",
        """INSERT OR IGNORE INTO account_service (service_name, endpoint, recorded_at)
           SELECT v.service_name, r.endpoint, r.recorded_at FROM vm v JOIN run r ON r.id = v.run_id
           ORDER BY r.period""",
    )(db)
    if db.execute("SELECT count(*) FROM account_service").fetchone()[0] == 0:
        db.execute(
            """INSERT OR IGNORE INTO account_service (service_name, endpoint, recorded_at)
               SELECT s.service_name, o.endpoint, o.recorded_at
               FROM vm_state s, (SELECT endpoint, recorded_at FROM observation
                                 ORDER BY day LIMIT 1) o"""
        )


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _V1,
    _v2,
    _V3,
    _V4,
    _V5,
    _v6,
)
SCHEMA_VERSION = len(MIGRATIONS)


_OBSERVATIONS = """SELECT day, taken_at, source, coverage, states, endpoint, snapshot_sha256,
    calls FROM observation WHERE day BETWEEN ? AND ? ORDER BY day"""
# A file read as it is (`open_read`) from before version 6 has no calls recorded.
_OBSERVATIONS_BEFORE_CALLS = _OBSERVATIONS.replace("\n    calls FROM", "\n    NULL FROM")

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guarded(
    what: str,
) -> Callable[
    [Callable[Concatenate[HistoryStore, _P], _R]], Callable[Concatenate[HistoryStore, _P], _R]
]:
    """A method whose SQL or stored values may meet a damaged file: its errors become one
    InputError naming the file and `what` was read (HistoryStore._errors)."""

    def wrap(
        method: Callable[Concatenate[HistoryStore, _P], _R],
    ) -> Callable[Concatenate[HistoryStore, _P], _R]:
        def guarded(store: HistoryStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            with store._errors(what):
                return method(store, *args, **kwargs)

        functools.update_wrapper(guarded, method)
        return guarded

    return wrap


@dataclass(frozen=True)
class StoredRun:
    """Everything stored about one run; `reviews` are the ones its reports were given."""

    period: str
    taken_at: str
    endpoint: str
    tool_version: str
    snapshot_sha256: str
    coverage: JSONObject
    summary: JSONObject
    recorded_at: str
    vms: Mapping[VmKey, VmState]
    findings: Mapping[str, FindingRecord]
    reviews: Mapping[str, CarriedReview]
    shortfalls: tuple[Shortfall, ...] = ()
    plan_sha256: str | None = None  # of its remediation/plan.json


@dataclass(frozen=True)
class ReviewOutcome:
    """What an import changed: new or changed reviews, cleared ones, identical ones."""

    stored: int
    cleared: int
    unchanged: int


class HistoryStore:
    """An open history file. Use `open` (creates and migrates) or `open_read` (reads only) as
    a context manager."""

    def __init__(self, path: Path, db: sqlite3.Connection, wait_s: float) -> None:
        self.path = path
        self.wait_s = wait_s
        self._db = db

    @classmethod
    def open(cls, path: Path, wait_s: float = DEFAULT_WAIT_S) -> HistoryStore:
        """Open (creating when absent) and bring the schema to SCHEMA_VERSION.

        `wait_s` is how long to wait for another process's write lock.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        # SQLite would create the file 0644 less the umask; every other output follows the umask.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o666))
        try:
            db = sqlite3.connect(path, timeout=wait_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise InputError(f"{path}: cannot open history file: {exc}") from None
        store = cls(path, db, wait_s)
        try:
            with store._errors():
                db.execute("PRAGMA foreign_keys = ON")
            store._use_wal()
            store._migrate()
        except BaseException:
            db.close()
            raise
        return store

    @classmethod
    def open_read(cls, path: Path) -> HistoryStore:
        """Open an existing history to read it as it is: never created, migrated or written.

        An older schema is read as it stands (what it does not have yet reads as empty). On a
        read-only mount SQLite cannot create the WAL's shared-memory file; the file is then
        read as immutable (nothing can write it there).
        """
        if not path.is_file():
            raise InputError(f"{path}: no history file (run `observe` or `run` first)")
        uri = path.resolve().as_uri()
        db: sqlite3.Connection | None = None
        for options in ("?mode=ro", "?mode=ro&immutable=1"):
            try:
                db = sqlite3.connect(f"{uri}{options}", uri=True, isolation_level=None)
                db.execute("SELECT count(*) FROM sqlite_schema").fetchone()
                break
            except sqlite3.OperationalError as exc:
                if db is not None:
                    db.close()
                    db = None
                if exc.sqlite_errorcode != sqlite3.SQLITE_CANTOPEN or "immutable" in options:
                    raise InputError(f"{path}: cannot read history file: {exc}") from None
            except sqlite3.DatabaseError as exc:
                if db is not None:
                    db.close()
                raise InputError(f"{path}: not a readable history file ({exc})") from None
        assert db is not None
        store = cls(path, db, 0.0)
        try:
            with store._errors():
                store._check_ours(store._pragma("user_version"))
        except BaseException:
            db.close()
            raise
        return store

    def close(self) -> None:
        self._db.close()

    def _use_wal(self) -> None:
        """Switch to WAL. SQLite answers a busy journal-mode switch at once, without its busy
        timeout (two runs creating the file together), so the wait is ours."""
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                with self._errors():
                    self._db.execute("PRAGMA journal_mode = WAL")
                return
            except HistoryBusyError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _errors(self, what: str = "") -> Iterator[None]:
        """SQLite errors, and stored values that do not decode, as one-line input errors
        naming the file (and `what` was being read)."""
        where = f" ({what})" if what else ""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise HistoryBusyError(
                    f"{self.path}: busy: another run held it for {self.wait_s:g} s; nothing was "
                    "written, run again"
                ) from None
            raise InputError(f"{self.path}: damaged history file: {exc}{where}") from None
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a readable history file ({exc})") from None
        except (zlib.error, ValueError, KeyError, TypeError, AttributeError) as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise InputError(
                f"{self.path}: damaged history file: {what or 'a stored value'} cannot be "
                f"read ({detail})"
            ) from None

    @contextlib.contextmanager
    def write(self, mend: bool = True) -> Iterator[None]:
        """One write transaction holding the write lock: all of it is stored, or none.

        It starts by finishing what a killed writer committed but did not move into place
        (`mend`), so the folder beside agrees with the history before anything is read."""
        with self._errors():
            self._db.execute("BEGIN IMMEDIATE")
        try:
            if mend:
                self._mend()
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        with self._errors():
            self._db.execute("COMMIT")

    # --- files the records describe (audit/history/publish.py) ------------------------

    def add_pending(self, moves: Iterable[tuple[Path, Path]]) -> None:
        """Record (pending, final) moves in this write: they commit with the records."""
        root = self.path.parent
        with self._errors("pending moves"):
            self._db.executemany(
                "INSERT OR REPLACE INTO pending_move (pending, final) VALUES (?, ?)",
                (
                    (pending.relative_to(root).as_posix(), final.relative_to(root).as_posix())
                    for pending, final in moves
                ),
            )

    def _mend(self) -> None:
        """Move into place every pending item a committed record names, then forget them;
        remove the pending items nothing names (a writer killed before its COMMIT)."""
        root = self.path.parent
        with self._errors("pending moves"):
            moves = self._db.execute("SELECT pending, final FROM pending_move").fetchall()
        named = {root / pending for pending, _ in moves}
        for pending, final in moves:
            if not finish_pending(root / pending, root / final, self.wait_s):
                raise HistoryBusyError(
                    f"{self.path}: busy: another process held {root / pending} for "
                    f"{self.wait_s:g} s; nothing was written, run again"
                )
            self._db.execute("DELETE FROM pending_move WHERE pending = ?", (pending,))
        for folder in {
            root,
            root / OBSERVATIONS_DIR,
            *((root / final).parent for _, final in moves),
        }:
            sweep_pending(folder, named)

    # --- one account per history ------------------------------------------------------

    def claim_account(self, services: Set[str], endpoint: str, recorded_at: str) -> None:
        """The folder belongs to the account of its first run or observation: a snapshot
        that shares no service with the recorded ones is another account's (InputError,
        naming both); one that shares some adds its new services. An endpoint that changed
        is no other account (it is recorded with each observation)."""
        with self._errors("account services"):
            recorded = dict(self._db.execute("SELECT service_name, endpoint FROM account_service"))
        if recorded and services and recorded.keys().isdisjoint(services):
            endpoints = sorted(set(recorded.values()))
            raise InputError(
                f"{self.path}: belongs to another account: it records the services "
                f"{_names(recorded)} (endpoint {', '.join(endpoints)}); this snapshot of "
                f"{endpoint or 'an unnamed endpoint'} reads {_names(services)}, which shares "
                "no service with them; nothing recorded (use another --out for that account)"
            )
        self._db.executemany(
            """INSERT OR IGNORE INTO account_service (service_name, endpoint, recorded_at)
               VALUES (?, ?, ?)""",
            ((name, endpoint, recorded_at) for name in sorted(services)),
        )

    def _pragma(self, name: str) -> int:
        return int(self._db.execute(f"PRAGMA {name}").fetchone()[0])

    def _migrate(self) -> None:
        with self._errors():
            version = self._pragma("user_version")
            if version == SCHEMA_VERSION:
                self._check_ours(version)
                return
        with self.write(mend=False), self._errors():
            version = self._pragma("user_version")  # another process may have migrated
            self._check_ours(version)
            for number in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[number - 1](self._db)
                self._db.execute(f"PRAGMA user_version = {number}")

    def _check_ours(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise InputError(
                f"{self.path}: history schema version {version} is newer than this "
                f"ovh-license-audit knows ({SCHEMA_VERSION}); upgrade the tool"
            )
        if version == 0:
            tables = self._db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
            if tables:
                raise InputError(f"{self.path}: an SQLite file that is not a history file")
        elif self._pragma("application_id") != APPLICATION_ID:
            raise InputError(f"{self.path}: an SQLite file that is not a history file")

    @property
    def schema_version(self) -> int:
        return self._pragma("user_version")

    # --- reading ----------------------------------------------------------------------

    @_guarded("the runs")
    def periods(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT period FROM run ORDER BY period")]

    @_guarded("the runs")
    def baseline(self, period: str) -> Baseline:
        """The past of `period`: its previous run in full and every first sighting."""
        taken = dict(
            self._db.execute("SELECT period, taken_at FROM run WHERE period < ?", (period,))
        )
        first_seen = {
            fingerprint: Sighting(first, taken[first])
            for fingerprint, first in self._db.execute(
                """SELECT f.fingerprint, min(r.period) FROM finding f JOIN run r ON r.id = f.run_id
                   WHERE r.period < ? GROUP BY f.fingerprint""",
                (period,),
            )
        }
        row = self._db.execute(
            """SELECT id, period, taken_at, snapshot_sha256, coverage FROM run
               WHERE period < ? ORDER BY period DESC LIMIT 1""",
            (period,),
        ).fetchone()
        if row is None:
            return Baseline(None, first_seen)
        run_id, previous_period, taken_at, sha256, coverage = row
        with self._errors(f"the run of {previous_period}"):
            unread = Unread.from_coverage(Coverage.from_json(json.loads(coverage)))
        vms = {
            VmKey(service, dc, vm_id): VmState(name, guest, licence, power, vcpus)
            for service, dc, vm_id, name, guest, licence, power, vcpus in self._db.execute(
                """SELECT service_name, datacenter_id, vm_id, name, guest_os_family, license,
                   power_state, vcpus FROM vm WHERE run_id = ?""",
                (run_id,),
            )
        }
        findings = {
            record.fingerprint: record
            for record in (
                FindingRecord(*values)
                for values in self._db.execute(
                    """SELECT fingerprint, rule_id, severity, status, service_name,
                       datacenter_id, vm_id, vm_name, message FROM finding WHERE run_id = ?""",
                    (run_id,),
                )
            )
        }
        previous = ComparedRun(
            sighting=Sighting(previous_period, taken_at),
            vms=vms,
            findings=findings,
            unread=unread,
            snapshot_sha256=sha256,
        )
        return Baseline(previous, first_seen)

    @_guarded("the runs")
    def runs_before(self, period: str, limit: int) -> list[StoredCounts]:
        """The last `limit` stored runs before `period`, oldest first."""
        rows = self._db.execute(
            "SELECT period, taken_at, summary FROM run WHERE period < ? ORDER BY period DESC "
            "LIMIT ?",
            (period, limit),
        ).fetchall()
        return [StoredCounts(p, taken, json.loads(summary)) for p, taken, summary in reversed(rows)]

    def reviews_for(self, fingerprints: Iterable[str]) -> dict[str, CarriedReview]:
        """The stored reviews of these findings, for pre-filling this run's reports."""
        wanted = set(fingerprints)
        return {
            review.fingerprint: review.carried()
            for review in self._reviews()
            if review.fingerprint in wanted
        }

    def stored_reviews(self) -> dict[str, Review]:
        """Every stored review by fingerprint, with who imported it and when."""
        return {review.fingerprint: review for review in self._reviews()}

    @_guarded("the reviews")
    def _reviews(self) -> list[Review]:
        return [
            Review(*row)
            for row in self._db.execute(
                """SELECT fingerprint, status, owner, comment, period, source, imported_at,
                   imported_by FROM review ORDER BY fingerprint"""
            )
        ]

    @_guarded("the reviews")
    def run_reviews(self, period: str, snapshot_sha256: str) -> dict[str, CarriedReview] | None:
        """The reviews a stored run's reports were given; None when that run is not stored."""
        row = self._db.execute(
            "SELECT id FROM run WHERE period = ? AND snapshot_sha256 = ?",
            (period, snapshot_sha256),
        ).fetchone()
        if row is None:
            return None
        return {
            fingerprint: CarriedReview.from_json(json.loads(review))
            for fingerprint, review in self._db.execute(
                "SELECT fingerprint, review FROM run_review WHERE run_id = ?", (row[0],)
            )
        }

    @_guarded("the findings")
    def run_fingerprints(self, period: str) -> frozenset[str] | None:
        """The findings of the stored run of `period`; None when no run of it is stored."""
        row = self._db.execute("SELECT id FROM run WHERE period = ?", (period,)).fetchone()
        if row is None:
            return None
        return frozenset(
            fingerprint
            for (fingerprint,) in self._db.execute(
                "SELECT fingerprint FROM finding WHERE run_id = ?", (row[0],)
            )
        )

    @_guarded("the shortfalls")
    def unsettled_shortfalls(self, period: str) -> tuple[UnsettledShortfall, ...]:
        """The shortfalls of the runs before `period` whose review for their own period is not
        `settled`, oldest period first, with that review's status and owner."""
        rows = self._db.execute(
            """SELECT r.period, s.service_name, s.datacenter_id, s.vm_id, s.vm_name,
               s.guest_os_family, s.days_unlicensed, sr.status, sr.owner
               FROM shortfall s JOIN run r ON r.id = s.run_id
               LEFT JOIN shortfall_review sr
                 ON sr.period = r.period AND sr.fingerprint = s.fingerprint
               WHERE r.period < ? AND (sr.status IS NULL OR sr.status != ?)
               ORDER BY r.period, s.service_name, s.datacenter_id, s.vm_id""",
            (period, SETTLED),
        )
        return tuple(
            UnsettledShortfall(earlier, Shortfall(*shortfall), status, owner)
            for earlier, *shortfall, status, owner in rows
        )

    @_guarded("the shortfall reviews")
    def settled_shortfalls(self, period: str) -> frozenset[str]:
        """The fingerprints of `period`'s shortfalls a review of that period settled."""
        return frozenset(
            fingerprint
            for (fingerprint,) in self._db.execute(
                "SELECT fingerprint FROM shortfall_review WHERE period = ? AND status = ?",
                (period, SETTLED),
            )
        )

    @_guarded("the shortfalls")
    def _shortfall_fingerprints(self, period: str) -> frozenset[str]:
        return frozenset(
            fingerprint
            for (fingerprint,) in self._db.execute(
                """SELECT s.fingerprint FROM shortfall s JOIN run r ON r.id = s.run_id
                   WHERE r.period = ?""",
                (period,),
            )
        )

    @_guarded("the runs")
    def run_of_plan(self, plan_sha256: str) -> str | None:
        """The period of the stored run whose remediation plan has this sha256, or None."""
        row = self._db.execute(
            "SELECT period FROM run WHERE plan_sha256 = ?", (plan_sha256,)
        ).fetchone()
        return None if row is None else str(row[0])

    @_guarded("the runs")
    def periods_without_plan(self) -> list[str]:
        """The stored runs recorded before plans were (their plan.json in the run folder)."""
        return [
            row[0]
            for row in self._db.execute(
                "SELECT period FROM run WHERE plan_sha256 IS NULL ORDER BY period"
            )
        ]

    @_guarded("remediation results")
    def remediation_recorded(self, results_sha256: str) -> str | None:
        """When a results file of this sha256 was recorded, or None."""
        row = self._db.execute(
            "SELECT recorded_at FROM remediation WHERE results_sha256 = ?", (results_sha256,)
        ).fetchone()
        return None if row is None else str(row[0])

    @_guarded("remediation results")
    def remediation_since(self, period: str, taken_at: str) -> tuple[RemediationApplied, ...]:
        """The remediation to list in the run of `period` taken at `taken_at`: finished by
        then, and not listed by the run before it (the latest stored one), which listed what
        had finished by its own snapshot and was recorded before it was (results imported
        late go to the next run). So each is listed once. Oldest first."""
        previous = self._db.execute(
            "SELECT taken_at, recorded_at FROM run WHERE period < ? ORDER BY period DESC LIMIT 1",
            (period,),
        ).fetchone()
        names = ", ".join(COUNTED)
        rows = self._db.execute(
            f"""SELECT plan_sha256, period, started_at, finished_at, source, results_file,
                {names}, recorded_at FROM remediation ORDER BY finished_at, id"""  # noqa: S608
        )
        until = _instant(taken_at)
        listed = []
        for *values, recorded_at in rows:
            item = RemediationApplied(*values)
            finished = _instant(item.finished_at)
            if finished > until:
                continue
            if previous is not None and not (
                finished > _instant(previous[0]) or _instant(recorded_at) > _instant(previous[1])
            ):
                continue
            listed.append(item)
        return tuple(listed)

    def observations(self, first: str, last: str) -> Observations:
        """The stored observations of the days from `first` to `last` (ISO), oldest first.

        Each day is checked as it is read (its coverage is JSON, its ids decode and name stored
        states): a damaged day is an InputError naming it, never a wrong figure."""
        version = self.schema_version
        if version < 3:  # read-only, a file from before observations: it has none
            return Observations((), {})
        with self._errors("observations"):
            rows = self._db.execute(
                _OBSERVATIONS if version >= 6 else _OBSERVATIONS_BEFORE_CALLS, (first, last)
            ).fetchall()
        states: dict[int, StateRow] = {}
        if rows:
            # One tuple per stored state (hundreds of thousands), no cycles.
            with self._errors("vm_state"), paused_collection():
                for state_id, *row in self._db.execute(
                    """SELECT id, service_name, datacenter_id, vm_id, name, guest_os_family,
                       license, power_state, vcpus FROM vm_state"""
                ):
                    states[int(state_id)] = tuple(row)
        known = np.fromiter(states, dtype=np.int64, count=len(states))
        days = []
        for day, taken_at, source, coverage, blob, endpoint, sha256, count in rows:
            with self._errors(f"the observation of {day}"):
                stored = json.loads(coverage)
                encoded = bytes(blob)
                raw = zlib.decompress(encoded)
                if len(raw) % 4:
                    raise ValueError("its state ids are not whole 32-bit numbers")
                ids = np.cumsum(np.frombuffer(raw, dtype="<u4"), dtype=np.int64)
                if not np.isin(ids, known).all():
                    raise ValueError("it names VM states the file does not hold")
                days.append(
                    ObservedDay(
                        str(day),
                        str(taken_at),
                        str(source),
                        bool(stored.get("complete")),
                        stored,
                        encoded,
                        endpoint=str(endpoint),
                        sha256=str(sha256),
                        calls=None if count is None else int(count),
                    )
                )
        return Observations(tuple(days), states)

    def observed_days(self) -> list[str]:
        with self._errors("observations"):
            return [row[0] for row in self._db.execute("SELECT day FROM observation ORDER BY day")]

    # --- writing (inside `write()`) -----------------------------------------------------

    def observation_complete(self, day: str) -> bool | None:
        """Whether the stored observation of `day` read everything; None when there is none."""
        with self._errors(f"the observation of {day}"):
            row = self._db.execute(
                "SELECT coverage FROM observation WHERE day = ?", (day,)
            ).fetchone()
            return None if row is None else bool(json.loads(row[0]).get("complete"))

    def record_observation(self, record: ObservationRecord) -> bool:
        """Store a day's observation, replacing that day's previous one, unless this one is
        incomplete and the stored one is complete: a partial read never replaces a full one.
        Another account's snapshot is refused (`claim_account`). Returns whether it was
        stored."""
        self.claim_account(record.services, record.endpoint, record.recorded_at)
        day = record.day.isoformat()
        if not record.coverage.get("complete") and self.observation_complete(day):
            return False
        with self._errors("vm_state"):
            self._store_observation(record)
        return True

    def _store_observation(self, record: ObservationRecord) -> None:
        db = self._db
        new: list[tuple[int, *tuple[object, ...]]] = []
        ids: list[int] = []
        with paused_collection():  # a tuple per stored state and per VM, no cycles
            known: dict[StateRow, int] = {
                tuple(row): state_id
                for state_id, *row in db.execute(
                    """SELECT id, service_name, datacenter_id, vm_id, name, guest_os_family,
                       license, power_state, vcpus FROM vm_state"""
                )
            }
            next_id = max(known.values(), default=0) + 1
            for key, vm in record.vms.items():
                row = state_row(key, vm)
                state_id = known.get(row)
                if state_id is None:
                    state_id = known[row] = next_id
                    next_id += 1
                    new.append((state_id, *row))
                ids.append(state_id)
        db.executemany(
            """INSERT INTO vm_state (id, service_name, datacenter_id, vm_id, name,
               guest_os_family, license, power_state, vcpus) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            new,
        )
        db.execute("DELETE FROM observation WHERE day = ?", (record.day.isoformat(),))
        db.execute(
            """INSERT INTO observation (day, taken_at, endpoint, source, snapshot_sha256, coverage,
               recorded_at, vms, states, calls) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                record.day.isoformat(),
                record.taken_at,
                record.endpoint,
                record.source,
                record.snapshot_sha256,
                _dump(record.coverage),
                record.recorded_at,
                len(ids),
                encode_ids(ids),
                record.calls,
            ),
        )

    @_guarded("the runs")
    def record_run(self, run: StoredRun) -> None:
        """Store a run, replacing the period's previous run if any."""
        db = self._db
        db.execute("DELETE FROM run WHERE period = ?", (run.period,))
        cursor = db.execute(
            """INSERT INTO run (period, taken_at, endpoint, tool_version, snapshot_sha256,
               coverage, recorded_at, summary, plan_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                run.period,
                run.taken_at,
                run.endpoint,
                run.tool_version,
                run.snapshot_sha256,
                _dump(run.coverage),
                run.recorded_at,
                _dump(run.summary),
                run.plan_sha256,
            ),
        )
        run_id = cursor.lastrowid
        db.executemany(
            """INSERT INTO vm (run_id, service_name, datacenter_id, vm_id, name,
               guest_os_family, license, power_state, vcpus) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                (run_id, *key, vm.name, vm.guest_os_family, vm.license, vm.power_state, vm.vcpus)
                for key, vm in run.vms.items()
            ),
        )
        db.executemany(
            """INSERT INTO finding (run_id, fingerprint, rule_id, severity, status, service_name,
               datacenter_id, vm_id, vm_name, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                (
                    run_id,
                    f.fingerprint,
                    f.rule_id,
                    f.severity,
                    f.status,
                    f.service_name,
                    f.datacenter_id,
                    f.vm_id,
                    f.vm_name,
                    f.message,
                )
                for f in run.findings.values()
            ),
        )
        db.executemany(
            """INSERT INTO shortfall (run_id, fingerprint, service_name, datacenter_id, vm_id,
               vm_name, guest_os_family, days_unlicensed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                (
                    run_id,
                    shortfall_fingerprint(item),
                    *item.key,
                    item.vm_name,
                    item.guest_os_family,
                    item.days_unlicensed,
                )
                for item in run.shortfalls
            ),
        )
        db.executemany(
            "INSERT INTO run_review (run_id, fingerprint, review) VALUES (?, ?, ?)",
            (
                (run_id, fingerprint, _dump(review.to_json()))
                for fingerprint, review in run.reviews.items()
            ),
        )

    def record_remediation(self, record: RemediationRecord, recorded_at: str) -> bool:
        """Store a results file's remediation; False when a file of its sha256 already is."""
        if self.remediation_recorded(record.results_sha256) is not None:
            return False
        item = record.applied
        cursor = self._db.execute(
            f"""INSERT INTO remediation (plan_sha256, period, results_sha256, results_file,
               source, started_at, finished_at, {", ".join(COUNTED)}, recorded_at)
               VALUES ({", ".join("?" * (len(COUNTED) + 8))})""",  # noqa: S608
            (
                item.plan_sha256,
                item.period,
                record.results_sha256,
                item.results_file,
                item.source,
                item.started_at,
                item.finished_at,
                *(getattr(item, name) for name in COUNTED),
                recorded_at,
            ),
        )
        self._db.executemany(
            """INSERT INTO remediation_action (remediation_id, line, service_name, datacenter_id,
               vm_id, vm_name, rule_id, action, target_license, previous_license, license_after,
               outcome, task_id, message, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            ((cursor.lastrowid, *astuple(action)) for action in record.actions),
        )
        return True

    @_guarded("the reviews")
    def save_reviews(
        self, sheet: ReviewSheet, source: str, imported_at: str, imported_by: str
    ) -> ReviewOutcome:
        """Make the stored reviews of the sheet's findings what the sheet says.

        The sheet has one row per finding, each a finding of a stored run (`check_run`). A row
        of one of the period's shortfalls is also that shortfall's review for the period: the
        one `settled` reads."""
        rows = {row.fingerprint: row for row in sheet.rows}
        existing = {review.fingerprint: review for review in self._reviews()}
        shortfalls = self._shortfall_fingerprints(sheet.period)
        stored = cleared = unchanged = 0
        for fingerprint, row in rows.items():
            if fingerprint in shortfalls:
                self._save_shortfall_review(sheet.period, row, source, imported_at, imported_by)
            before = existing.get(fingerprint)
            if row.empty:
                if before is not None:
                    self._db.execute("DELETE FROM review WHERE fingerprint = ?", (fingerprint,))
                    cleared += 1
                continue
            if before is not None and (before.status, before.owner, before.comment) == (
                row.status,
                row.owner,
                row.comment,
            ):
                unchanged += 1
                continue
            self._db.execute(
                """INSERT OR REPLACE INTO review (fingerprint, status, owner, comment, period,
                   source, imported_at, imported_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    fingerprint,
                    row.status,
                    row.owner,
                    row.comment,
                    sheet.period,
                    source,
                    imported_at,
                    imported_by,
                ),
            )
            stored += 1
        return ReviewOutcome(stored, cleared, unchanged)

    def save_shortfall_reviews(
        self,
        rows: Iterable[ShortfallReviewRow],
        source: str,
        imported_at: str,
        imported_by: str,
    ) -> int:
        """Store the reviews an Unsettled shortfalls sheet gives earlier periods' shortfalls
        (each checked by `check_shortfalls`); a row as stored already changes nothing.
        Returns how many were stored."""
        stored = 0
        for item in rows:
            row = item.review
            now = self._db.execute(
                """SELECT status, owner, comment FROM shortfall_review
                   WHERE period = ? AND fingerprint = ?""",
                (item.period, row.fingerprint),
            ).fetchone()
            if now is not None and tuple(now) == row.review:
                continue
            self._save_shortfall_review(item.period, row, source, imported_at, imported_by)
            stored += 1
        return stored

    def shortfall_fingerprints(self, period: str) -> frozenset[str]:
        """The fingerprints of the shortfalls stored for `period`'s runs."""
        return self._shortfall_fingerprints(period)

    def _save_shortfall_review(
        self, period: str, row: ReviewRow, source: str, imported_at: str, imported_by: str
    ) -> None:
        self._db.execute(
            "DELETE FROM shortfall_review WHERE period = ? AND fingerprint = ?",
            (period, row.fingerprint),
        )
        if row.empty:
            return
        self._db.execute(
            """INSERT INTO shortfall_review (period, fingerprint, status, owner, comment, source,
               imported_at, imported_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                period,
                row.fingerprint,
                row.status,
                row.owner,
                row.comment,
                source,
                imported_at,
                imported_by,
            ),
        )


def _instant(text: str) -> datetime:
    """An ISO timestamp (`Z` or an offset; naive is UTC), comparable with any other."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _names(services: Iterable[str]) -> str:
    """A few service names for a one-line message."""
    names = sorted(services)
    shown = ", ".join(names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
