"""Remediation results into the history: a results CSV read and checked, matched to the run
whose plan it applied (by the plan's sha256), and stored once.

`remediate --apply` records its own results when its plan sits in a run folder beside a
history; the generated remediate.py cannot reach the history, so `import-results` records its
CSV. Both go through `record_results`. A bad file is an InputError naming the file, line and
column, and nothing is stored.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.history.store import DEFAULT_WAIT_S, HistoryStore
from audit.model.remediation import ActionOutcome, RemediationApplied, RemediationRecord
from audit.runtime.plan import ActionKind
from audit.runtime.results import RESULT_COLUMNS, Outcome
from audit.runtime.text import unneutralise
from audit.support.errors import InputError
from audit.support.fsutil import sha256_file

SOURCE_APPLY = "remediate --apply"
SOURCE_IMPORT = "import-results"
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Recorded:
    """What `record_results` did: the summary, and whether it was new (False: the same file
    was recorded before, at `recorded_at`)."""

    applied: RemediationApplied
    new: bool
    recorded_at: str

    def line(self, history: Path) -> str:
        item = self.applied
        what = (
            f"{item.applied} applied, {item.failed} failed, {item.pending} pending, "
            f"{item.skipped} skipped, {item.capped + item.not_attempted} not attempted"
        )
        if not self.new:
            return (
                f"remediation of plan {item.plan_sha256} ({item.period}) already recorded in "
                f"{history} on {self.recorded_at}: nothing stored"
            )
        return (
            f"remediation of plan {item.plan_sha256} ({item.period}) recorded in {history}: "
            f"{what}; the next run's report lists it"
        )


def read_results_file(path: Path) -> tuple[str, tuple[ActionOutcome, ...]]:
    """The plan sha256 and every action of a results CSV, checked cell by cell."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            try:
                return _read(path, reader)
            except csv.Error as exc:
                raise InputError(f"{path}: line {reader.line_num}: not CSV: {exc}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file, not a results CSV") from None


def _read(path: Path, reader: Any) -> tuple[str, tuple[ActionOutcome, ...]]:
    header = next(reader, None)
    if header is None:
        raise InputError(f"{path}: line 1: empty file, not a results CSV")
    for name in RESULT_COLUMNS:
        if name not in header:
            raise InputError(
                f"{path}: line 1: no column {name!r}: not a results CSV written by remediate.py "
                "or `ovh-license-audit remediate`"
            )
    actions: list[ActionOutcome] = []
    plan_sha256 = ""
    line = reader.line_num + 1  # where the next record starts (a cell may hold a newline)
    for cells in reader:
        if len(cells) != len(header):
            raise InputError(
                f"{path}: line {line}: {len(cells)} cell(s), the header has {len(header)}"
            )
        values = {name: unneutralise(cell) for name, cell in zip(header, cells, strict=True)}
        digest = values["plan_sha256"]
        if not _SHA256.fullmatch(digest):
            raise _error(path, line, "plan_sha256", digest, "is not a sha256")
        if plan_sha256 and digest != plan_sha256:
            raise _error(path, line, "plan_sha256", digest, f"is not line 2's {plan_sha256}")
        plan_sha256 = digest
        actions.append(_action(path, line, values))
        line = reader.line_num + 1
    if not actions:
        raise InputError(f"{path}: line 2: no action: nothing to record")
    return plan_sha256, tuple(actions)


def _error(path: Path, line: int, column: str, value: str, problem: str) -> InputError:
    shown = value if len(value) <= 60 else value[:59] + "\u2026"
    return InputError(f"{path}: line {line}, column {column}: {shown!r} {problem}")


def _action(path: Path, line: int, values: dict[str, str]) -> ActionOutcome:
    def required(column: str) -> str:
        if not values[column]:
            raise InputError(f"{path}: line {line}, column {column}: empty")
        return values[column]

    def whole(column: str) -> int | None:
        text = values[column]
        if not text:
            return None
        if not text.isdigit():
            raise _error(path, line, column, text, "is not a whole number")
        return int(text)

    outcome = values["outcome"]
    if outcome == Outcome.WOULD_APPLY:
        raise _error(
            path,
            line,
            "outcome",
            outcome,
            "is a dry run's, which applied nothing: nothing recorded (import the "
            "remediation-apply-*.csv of the --apply run)",
        )
    if outcome not in {item.value for item in Outcome}:
        raise _error(path, line, "outcome", outcome, "is not an outcome of remediate")
    if values["action"] not in {item.value for item in ActionKind}:
        raise _error(path, line, "action", values["action"], "is not a plan action")
    try:
        at = datetime.fromisoformat(values["at"].replace("Z", "+00:00"))
    except ValueError:
        raise _error(path, line, "at", values["at"], "is not a UTC time") from None
    at_utc = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    return ActionOutcome(
        line=line,
        service_name=required("service_name"),
        datacenter_id=whole("datacenter_id"),
        vm_id=whole("vm_id"),
        vm_name=values["vm_name"] or None,
        rule_id=required("rule_id"),
        action=values["action"],
        target_license=values["target_license"] or None,
        previous_license=values["previous_license"] or None,
        license_after=values["license_after"] or None,
        outcome=outcome,
        task_id=whole("task_id"),
        message=values["message"],
        at=at_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _period_of(
    store: HistoryStore, plan_sha256: str, plan_file: Callable[[str], Path]
) -> str | None:
    """The run whose plan has this sha256: recorded with the run, or, for a run recorded
    before plans were, its run folder's plan.json."""
    found = store.run_of_plan(plan_sha256)
    if found is not None:
        return found
    for period in store.periods_without_plan():
        path = plan_file(period)
        if path.is_file() and sha256_file(path) == plan_sha256:
            return period
    return None


def record_results(
    history: Path,
    results: Path,
    source: str,
    plan_file: Callable[[str], Path],
    wait_s: float = DEFAULT_WAIT_S,
) -> Recorded:
    """Check `results` and store it in `history` (which must exist), against the stored run
    whose plan it applied; `plan_file(period)` is that period's plan.json in its run folder."""
    plan_sha256, actions = read_results_file(results)
    digest = sha256_file(results)
    if not history.is_file():
        raise InputError(f"{history}: no such history file (the monthly job creates it)")
    with HistoryStore.open(history, wait_s) as store, store.write():
        # Inside the write lock: after every run recorded before it (see remediation_since).
        recorded_at = datetime.now(UTC).isoformat(timespec="microseconds")
        period = _period_of(store, plan_sha256, plan_file)
        if period is None:
            raise InputError(
                f"{results}: line 2, column plan_sha256: {plan_sha256} is the plan of no run in "
                f"{history} (a plan of another output folder, a rollback plan, or a run of its "
                "period replaced since); nothing recorded"
            )
        applied = RemediationApplied.of(plan_sha256, period, source, results.name, actions)
        earlier = store.remediation_recorded(digest)
        if earlier is not None:
            return Recorded(applied, False, earlier)
        store.record_remediation(RemediationRecord(applied, digest, actions), recorded_at)
    return Recorded(applied, True, recorded_at)
