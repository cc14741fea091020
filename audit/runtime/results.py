"""What became of each action: the results CSV, read back exactly, and the rollback plan."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO

from audit.runtime.plan import Action, ActionKind, Plan, PlanError
from audit.runtime.text import UNLICENSED, neutralise_reversibly, unneutralise


class Outcome(StrEnum):
    """What became of one action in one run."""

    WOULD_APPLY = "would-apply"  # dry run: the VM still matches, --apply would send it
    APPLIED = "applied"  # the task ended in `done`
    FAILED = "failed"  # refused by the API, or the task ended in error
    PENDING = "pending"  # sent, but not seen to end: task still running at --task-timeout,
    # or the answer to the call was lost (5xx, network); the rollback plan includes it
    SKIPPED = "skipped"  # the VM changed since the plan: not touched
    CAPPED = "capped"  # beyond --max-changes: not touched
    MANUAL = "manual"  # a person must act
    REFUSED = "refused"  # the key may not make this call: the run stopped here
    NOT_ATTEMPTED = "not-attempted"  # after a refusal


RESULT_COLUMNS = (
    "plan_sha256",
    "service_name",
    "datacenter_id",
    "vm_id",
    "vm_name",
    "rule_id",
    "action",
    "current_license",
    "target_license",
    "bypassGuestOsFamilyCheck",
    "guest_os_family",
    "outcome",
    "previous_license",
    "license_after",
    "task_id",
    "task_state",
    "message",
    "at",
)

# A spreadsheet runs a cell starting with one of these as a formula; the quote that


@dataclass(frozen=True)
class Result:
    """One action and what became of it; `previous_license` is what the VM showed before."""

    action: Action
    outcome: Outcome
    message: str = ""
    previous_license: str | None = None
    license_after: str | None = None
    task_id: int | None = None
    task_state: str | None = None

    def row(self, plan_sha256: str, at: str) -> dict[str, str]:
        """The results CSV row, before neutralisation (None is an empty cell)."""
        action = self.action
        values: dict[str, object] = {
            "plan_sha256": plan_sha256,
            "service_name": action.service_name,
            "datacenter_id": action.datacenter_id,
            "vm_id": action.vm_id,
            "vm_name": action.vm_name,
            "rule_id": action.rule_id,
            "action": action.action.value,
            "current_license": action.current_license,
            "target_license": action.target_license,
            "bypassGuestOsFamilyCheck": "true" if action.bypass_guest_os_family_check else "false",
            "guest_os_family": action.guest_os_family,
            "outcome": self.outcome.value,
            "previous_license": self.previous_license,
            "license_after": self.license_after,
            "task_id": self.task_id,
            "task_state": self.task_state,
            "message": self.message,
            "at": at,
        }
        return {key: "" if value is None else str(value) for key, value in values.items()}


class ResultsFile:
    """The results CSV, one row written and flushed per action: an interrupted run still
    leaves the record of every change it made."""

    def __init__(self, handle: IO[str], plan_sha256: str) -> None:
        self._writer = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS, lineterminator="\r\n")
        self._handle = handle
        self._plan_sha256 = plan_sha256
        self.rows: list[dict[str, str]] = []
        self._writer.writeheader()

    def write(self, result: Result) -> None:
        row = result.row(self._plan_sha256, _now())
        self.rows.append(row)
        self._writer.writerow({key: neutralise_reversibly(value) for key, value in row.items()})
        self._handle.flush()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def read_results(path: Path) -> list[dict[str, str]]:
    """Read a results CSV back exactly as it was recorded."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(RESULT_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise PlanError(f"{path}: not a results file (no column {sorted(missing)[0]})")
            return [
                {key: unneutralise(row.get(key) or "") for key in RESULT_COLUMNS} for row in reader
            ]
    except OSError as exc:
        raise PlanError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise PlanError(f"{path}: not a results CSV: {exc}") from None


def rollback_plan(rows: Sequence[dict[str, str]], source: str) -> Plan:
    """The plan that puts back the previous licence of every VM a run changed, newest first.

    Each action expects the licence the change set: the rollback, like any plan, skips a VM
    that changed since. Pending changes are included: if they never landed, that check finds
    the VM unchanged and skips it. A VM that had no licence (or `unlicensed windows guestos`)
    gets removeLicense; any other previous value is set again with bypassGuestOsFamilyCheck,
    since it may be exactly the value the guest-OS check refuses.
    """
    actions: list[Action] = []
    plan_shas = {row["plan_sha256"] for row in rows}
    for index, row in enumerate(rows):
        if row["outcome"] not in (Outcome.APPLIED, Outcome.PENDING):
            continue
        where = f"{source}: row {index + 2}"
        try:
            kind = ActionKind(row["action"])
            datacenter_id, vm_id = int(row["datacenter_id"]), int(row["vm_id"])
        except ValueError:
            raise PlanError(f"{where}: action, datacenter_id or vm_id is not valid") from None
        previous = row["previous_license"]
        if previous in ("", UNLICENSED):
            had = "no licence" if not previous else f"'{previous}'"
            kind_back, target, bypass = ActionKind.REMOVE_LICENSE, None, False
            reason = f"Rollback: the VM had {had} before this change."
        else:
            kind_back, target, bypass = ActionKind.SET_LICENSE, previous, True
            reason = (
                f"Rollback: restore '{previous}' (guest-OS check bypassed: the previous licence "
                "may be the one that did not fit)."
            )
        actions.append(
            Action(
                action=kind_back,
                service_name=row["service_name"],
                datacenter_id=datacenter_id,
                vm_id=vm_id,
                vm_name=row["vm_name"] or None,
                rule_id=row["rule_id"],
                current_license=(row["target_license"] if kind is ActionKind.SET_LICENSE else None)
                or None,
                target_license=target,
                reason=reason,
                bypass_guest_os_family_check=bypass,
                guest_os_family=row["guest_os_family"] or None,
            )
        )
    return Plan(
        snapshot_sha256=None,
        actions=tuple(reversed(actions)),
        rollback_of=next(iter(plan_shas)) if len(plan_shas) == 1 else None,
    )


def rollback_from_results(path: Path) -> Plan:
    """`--rollback RESULTS`: the plan that undoes what the run of RESULTS changed.

    The results of a dry run are refused (exit code 2): a dry run changes nothing, so there is
    nothing to roll back, and the operator most likely meant the `--apply` run's file. An
    `--apply` run that changed nothing gives an empty plan, which changes nothing either.
    """
    rows = read_results(path)
    changed = any(row["outcome"] in (Outcome.APPLIED, Outcome.PENDING) for row in rows)
    if not changed and any(row["outcome"] == Outcome.WOULD_APPLY for row in rows):
        raise PlanError(
            f"{path}: the results of a dry run, which changed nothing: there is nothing to roll "
            "back (roll back the remediation-apply-*.csv an --apply run wrote)"
        )
    return rollback_plan(rows, str(path))
