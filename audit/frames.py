"""A run and the history as pandas DataFrames, for an analyst's notebook.

    from audit import frames
    findings = frames.findings("reports/2026-11")
    findings.groupby(["rule_id", "status"]).size()
    frames.observations("reports", "2026-11").groupby("day").license.value_counts()

Read-only: every function reads files a run or `observe` wrote and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from audit.evaluate.inventory import inventory_of
from audit.evaluate.position import licences as position_licences
from audit.exposure.frame import observation_frame
from audit.history.store import HISTORY_FILE, HistoryStore
from audit.job import FINDINGS_FILE, SNAPSHOT_FILE
from audit.model import period as periods
from audit.model.run import RunReport
from audit.model.snapshot import read_snapshot

__all__ = ["exposure", "findings", "inventory", "licences", "observations"]


def findings(run_dir: str | Path) -> pd.DataFrame:
    """One row per finding of the run (findings.json), its columns as in findings.csv."""
    report = RunReport.read(Path(run_dir) / FINDINGS_FILE)
    rows = []
    for finding in report.findings:
        row = finding.to_json()
        row.pop("exception", None)
        row["first_seen"] = None if finding.first_seen is None else finding.first_seen.period
        row["change"] = None if finding.change is None else finding.change.value
        rows.append(row)
    return pd.DataFrame(rows)


def inventory(run_dir: str | Path) -> pd.DataFrame:
    """One row per VM of the run's snapshot, its API fields as columns plus where it is."""
    snapshot, _ = read_snapshot(Path(run_dir) / SNAPSHOT_FILE)
    rows = [
        {"service_name": service.service_name, "datacenter_id": dc.datacenter_id, **vm}
        for service in snapshot.services
        for dc in service.datacenters
        for vm in dc.vms
    ]
    return pd.DataFrame(rows)


def licences(run_dir: str | Path) -> pd.DataFrame:
    """The run's licence position: one row per service, datacenter and licence value, with
    the period's peak and licence-days when the run had observations."""
    run_dir = Path(run_dir)
    snapshot, _ = read_snapshot(run_dir / SNAPSHOT_FILE)
    report = RunReport.read(run_dir / FINDINGS_FILE)
    usage = report.summary.licence_usage
    rows = position_licences(usage, inventory_of(snapshot), report.exposure)
    return pd.DataFrame([row.to_json() for row in rows])


def exposure(run_dir: str | Path) -> pd.DataFrame:
    """Per VM over the run's period (Windows guests and licensed VMs): days observed, powered
    on and run unlicensed. Empty for a run written before observations existed."""
    report = RunReport.read(Path(run_dir) / FINDINGS_FILE)
    if report.exposure is None:
        return pd.DataFrame()
    return pd.DataFrame([vm.to_json() for vm in report.exposure.vms])


def observations(out_dir: str | Path, period: str | None = None) -> pd.DataFrame:
    """One row per observed day and VM read that day (`day`, where it is, and its name, guest
    OS, licence, power state and vCPUs), from OUT/history.sqlite; only `period`'s days
    (`YYYY-MM`, `current` or `previous`, as `--period`) when given."""
    path = Path(out_dir) / HISTORY_FILE
    first, last = "0000-00-00", "9999-99-99"
    if period is not None:
        month = periods.parse_period(period, datetime.now(UTC).date())
        first, last = month.start.isoformat(), month.end.isoformat()
    with HistoryStore.open_read(path) as store:  # never migrated, created or written
        return observation_frame(store.observations(first, last))
