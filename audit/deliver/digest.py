"""The executive summary a mail carries: what a licence owner reads before any attachment.

Built from the run folder's files only, by `digest_from_run_dir`, so `mail RUN_DIR` says the
same thing months later as `run --mail` said on the day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.errors import InputError
from audit.fsutil import sha256_file
from audit.job import FINDINGS_FILE, REMEDIATION_DIR
from audit.model.findings import Severity, Status
from audit.remediate.script import PLAN_FILE

UNLICENSED_RULE = "WIN-UNLICENSED"
SEVERITIES = tuple(severity.value for severity in Severity)
ARRIVALS = ("new", "reopened")


@dataclass(frozen=True)
class Count:
    """A count and, when a previous run is there to compare with, the same count then."""

    value: int
    previous: int | None = None

    @property
    def change(self) -> str:
        """ "+3", "-1", "no change", or "" without a previous run."""
        if self.previous is None:
            return ""
        delta = self.value - self.previous
        return "no change" if delta == 0 else f"{delta:+d}"


@dataclass(frozen=True)
class Coverage:
    complete: bool
    services: tuple[int, int]  # read, listed
    datacenters: tuple[int, int]
    vms: tuple[int, int]
    failures: int

    @property
    def line(self) -> str:
        state = "complete" if self.complete else "INCOMPLETE"
        return (
            f"{state}: {self.services[0]}/{self.services[1]} services, "
            f"{self.datacenters[0]}/{self.datacenters[1]} datacenters, "
            f"{self.vms[0]}/{self.vms[1]} VMs read"
            + (f", {self.failures} not read" if self.failures else "")
        )


@dataclass(frozen=True)
class PlanSize:
    set_licence: int
    remove_licence: int
    manual: int
    sha256: str


@dataclass(frozen=True)
class Digest:
    """The executive summary of one run folder."""

    period: str
    taken_at: str
    run_dir: Path
    fail_on: str
    failing: int  # open findings at or above fail_on
    previous_period: str | None
    unlicensed: Count  # open WIN-UNLICENSED findings: unlicensed Windows servers
    new_unlicensed: int
    new: int  # new and reopened findings since the previous run
    resolved: int
    open_by_severity: tuple[tuple[str, Count], ...]
    coverage: Coverage
    plan: PlanSize

    @property
    def verdict(self) -> str:
        """The verdict against --fail-on, in words."""
        if not self.coverage.complete:
            return (
                "INCOMPLETE: the collection could not read everything "
                f"({self.coverage.line}); what was not read is not judged"
            )
        if self.fail_on == "never":
            return "No threshold set (--fail-on never): the counts below are for information"
        if self.failing:
            noun = "finding" if self.failing == 1 else "findings"
            return f"FAIL: {self.failing} open {noun} at or above {self.fail_on} severity"
        return f"PASS: no open finding at or above {self.fail_on} severity"

    @property
    def subject(self) -> str:
        servers = "server" if self.unlicensed.value == 1 else "servers"
        state = "" if self.coverage.complete else " (INCOMPLETE)"
        news = f", {self.new_unlicensed} new" if self.previous_period is not None else ""
        return (
            f"Windows licence audit {self.period}{state}: "
            f"{self.unlicensed.value} unlicensed Windows {servers}{news}"
        )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a valid JSON document: {exc}") from None


def _open_findings(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in document["findings"] if f.get("status") == Status.OPEN.value]


def _previous_document(run_dir: Path, previous: Any) -> dict[str, Any] | None:
    """The previous run's findings.json beside this one, when it is the run compared with."""
    if not isinstance(previous, dict):
        return None
    path = run_dir.parent / str(previous.get("period")) / FINDINGS_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if document.get("run", {}).get("snapshot_sha256") != previous.get("snapshot_sha256"):
        return None  # the folder was run again since: its counts are not the ones compared
    return document if isinstance(document, dict) else None


def digest_from_run_dir(run_dir: Path, fail_on: str = "high") -> Digest:
    """Read findings.json and remediation/plan.json of a run folder (damage: InputError)."""
    findings_path = run_dir / FINDINGS_FILE
    plan_path = run_dir / REMEDIATION_DIR / PLAN_FILE
    document = _read_json(findings_path)
    plan = _read_json(plan_path)
    try:
        meta = document["run"]
        opened = _open_findings(document)
        previous = _previous_document(run_dir, document.get("previous_run"))
        before = [] if previous is None else _open_findings(previous)
        compare = previous is not None

        def counted(rows: list[dict[str, Any]], **match: str) -> int:
            return sum(all(row.get(k) == v for k, v in match.items()) for row in rows)

        def count(**match: str) -> Count:
            return Count(counted(opened, **match), counted(before, **match) if compare else None)

        threshold = None if fail_on == "never" else Severity(fail_on).rank
        failing = sum(
            threshold is not None and Severity(f["severity"]).rank >= threshold for f in opened
        )
        arrivals = [f for f in opened if f.get("change") in ARRIVALS]
        coverage = meta["coverage"]
        actions = [action["action"] for action in plan["actions"]]
        previous_run = document.get("previous_run")
        return Digest(
            period=str(meta["period"]),
            taken_at=str(meta["taken_at"]),
            run_dir=run_dir,
            fail_on=fail_on,
            failing=failing,
            previous_period=None
            if not isinstance(previous_run, dict)
            else str(previous_run["period"]),
            unlicensed=count(rule_id=UNLICENSED_RULE),
            new_unlicensed=counted(arrivals, rule_id=UNLICENSED_RULE),
            new=sum(f.get("change") in ARRIVALS for f in document["findings"]),
            resolved=len(document.get("resolved", [])),
            open_by_severity=tuple((name, count(severity=name)) for name in SEVERITIES),
            coverage=Coverage(
                complete=bool(coverage["complete"]),
                services=(coverage["services_read"], coverage["services_listed"]),
                datacenters=(coverage["datacenters_read"], coverage["datacenters_listed"]),
                vms=(coverage["vms_fetched"], coverage["vms_listed"]),
                failures=len(coverage.get("failures", [])),
            ),
            plan=PlanSize(
                set_licence=actions.count("setLicense"),
                remove_licence=actions.count("removeLicense"),
                manual=actions.count("manual"),
                sha256=sha256_file(plan_path),
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{findings_path}: not a findings document of this tool: {exc}") from None
