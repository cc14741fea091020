"""History files as earlier schema versions left them, for the migration tests."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.helpers.history import PROD, WIN, WIN_CLIENT, snapshot
from tests.helpers.vms import api_vm

FLEET = {
    (PROD, 1): [
        api_vm(1, WIN, None),
        api_vm(2, WIN_CLIENT, None),
        api_vm(3, WIN, "windows 2019 Standard"),
    ]
}

# The first schema version, frozen as that version wrote it: a migration must keep upgrading
# these files even after the code that created them changes.
VERSION_1_SCHEMA = (
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
    "PRAGMA application_id = 1330397512",
    "PRAGMA user_version = 1",
)


def version_1_file(path: Path) -> None:
    """A history file as the first schema version wrote it, with one January run."""
    db = sqlite3.connect(path, isolation_level=None)
    for statement in VERSION_1_SCHEMA:
        db.execute(statement)
    db.execute(
        """INSERT INTO run (id, period, taken_at, endpoint, tool_version, snapshot_sha256,
           coverage, recorded_at) VALUES (1, '2026-01', '2026-01-01T03:00:00Z', 'ovh-eu',
           '0.1.0', 'abc', ?, '2026-01-01T03:05:00+00:00')""",
        (json.dumps(snapshot(FLEET, "2026-01-01T03:00:00Z").coverage.to_json()),),
    )
    db.execute("INSERT INTO vm VALUES (1, ?, 1, 1, 'vm-1', ?, NULL, 'poweredOn', 2)", (PROD, WIN))
    for vm_id, rule, severity, status in (
        (1, "WIN-UNLICENSED", "high", "open"),
        (2, "WIN-CLIENT-OS", "medium", "byol"),
    ):
        db.execute(
            "INSERT INTO finding VALUES (1, ?, ?, ?, ?, ?, 1, ?, ?, 'm')",
            (f"{PROD}|1|{vm_id}|{rule}", rule, severity, status, PROD, vm_id, f"vm-{vm_id}"),
        )
    db.close()


# What version 6 added, undone: a version 6 file back to version 5.
VERSION_6_UNDONE = (
    "DROP TABLE account_service",
    "DROP TABLE pending_move",
    "ALTER TABLE observation DROP COLUMN calls",
)
