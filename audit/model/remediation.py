"""Remediation results recorded in the history, and what the next run's report lists of them.

A remediation run (`remediate --apply`, or the generated remediate.py whose results CSV is
imported with `import-results`) is recorded with its plan's sha256, the run that wrote the plan
and each action's outcome. The next run lists the ones applied since the previous run
(findings.json "remediation_applied"), so its reports say what was changed in between.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from audit.model.fields import optional_int, optional_string, string
from audit.support.jsontypes import JSONObject

# How the results CSV's outcomes count in a report (audit/runtime/results.py Outcome).
FAILED_OUTCOMES = frozenset({"failed", "refused"})
COUNTED = ("applied", "failed", "pending", "skipped", "capped", "manual", "not_attempted")


@dataclass(frozen=True)
class ActionOutcome:
    """One row of a results CSV as the history keeps it (`line`: its line in the file)."""

    line: int
    service_name: str
    datacenter_id: int | None
    vm_id: int | None
    vm_name: str | None
    rule_id: str
    action: str
    target_license: str | None
    previous_license: str | None
    license_after: str | None
    outcome: str
    task_id: int | None
    message: str
    at: str


@dataclass(frozen=True)
class RemediationApplied:
    """A recorded remediation run: which plan (of which run's period), when, by what, and how
    many of its actions were applied, failed (refused included), pending (sent, end not seen),
    skipped (the VM changed), capped (beyond --max-changes), manual or not attempted."""

    plan_sha256: str
    period: str
    started_at: str
    finished_at: str
    source: str
    results_file: str
    applied: int = 0
    failed: int = 0
    pending: int = 0
    skipped: int = 0
    capped: int = 0
    manual: int = 0
    not_attempted: int = 0

    @classmethod
    def of(
        cls,
        plan_sha256: str,
        period: str,
        source: str,
        results_file: str,
        actions: Iterable[ActionOutcome],
    ) -> RemediationApplied:
        """The summary of a results file's actions (at least one)."""
        rows = list(actions)
        counts = Counter(
            "failed" if row.outcome in FAILED_OUTCOMES else row.outcome.replace("-", "_")
            for row in rows
        )
        times = sorted(row.at for row in rows)
        return cls(
            plan_sha256,
            period,
            times[0],
            times[-1],
            source,
            results_file,
            **{name: counts[name] for name in COUNTED},
        )

    def to_json(self) -> JSONObject:
        return {
            "plan_sha256": self.plan_sha256,
            "period": self.period,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "source": self.source,
            "results_file": self.results_file,
            **{name: getattr(self, name) for name in COUNTED},
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> RemediationApplied:
        counts = {}
        for name in COUNTED:
            value = optional_int(data[name])
            if value is None or value < 0:
                raise ValueError(f"{name}: expected a count, got {value!r}")
            counts[name] = value
        return cls(
            plan_sha256=string(data["plan_sha256"]),
            period=string(data["period"]),
            started_at=string(data["started_at"]),
            finished_at=string(data["finished_at"]),
            source=string(data["source"]),
            results_file=optional_string(data["results_file"]) or "",
            **counts,
        )


@dataclass(frozen=True)
class RemediationRecord:
    """What the history stores of one results file: its summary, sha256 and every action."""

    applied: RemediationApplied
    results_sha256: str
    actions: tuple[ActionOutcome, ...]
