"""Apply an ovh-license-audit remediation plan to OVHcloud Hosted Private Cloud VMs.

Dry run by default: every licence action is checked against the VM as it is now and reported,
nothing is changed. With --apply, each action still matching its VM is sent (setLicense or
removeLicense), its task is followed to the end, and every outcome is written to a results CSV
as it happens, with a rollback plan (the previous licence of each changed VM) at the end.

This module is the whole remediation runtime and needs only Python 3.11+ and the `ovh`
package: its source is copied verbatim into every generated `remediation/remediate.py`, with
the plan appended as data, and `ovh-license-audit remediate` imports it. The tool and the
script therefore cannot diverge.

Credentials come the `ovh` way: OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET and
OVH_CONSUMER_KEY, or an ovh.conf. The consumer key needs POST on /dedicatedCloud/*; a
read-only key is stopped at the first POST, before anything else is attempted.

A run stops early, after recording the action in hand, when the key is refused, when the
endpoint cannot be reached (after the call's bounded retries), or on SIGINT or SIGTERM: the
remaining actions are recorded as not attempted, the rollback plan is written, and one line on
stderr says why and where the rollback plan is.

Exit codes: 0 every attempted action succeeded (skipped, capped and manual items included);
1 at least one action failed or its task did not end in time; 2 usage, plan, credential or
rights error, unreachable endpoint, or the run was stopped by a signal (one line on stderr).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import IO, Any, Protocol
from urllib.parse import quote

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

UNLICENSED = "unlicensed windows guestos"
DEFAULT_TASK_TIMEOUT_S = 900.0


def _ovh() -> Any:
    """`ovh`, imported on first use: its import parses ovh.conf, which `--help` must not need."""
    import ovh
    import ovh.client
    import ovh.exceptions

    return ovh


def _key_refusals() -> tuple[type[Exception], ...]:
    """Refusals of the key itself: nothing more can succeed with it, so the run stops."""
    exceptions = _ovh().exceptions
    return (
        exceptions.NotGrantedCall,
        exceptions.Forbidden,
        exceptions.InvalidKey,
        exceptions.InvalidCredential,
        exceptions.NotCredential,
    )


# Task states after which nothing more happens (dedicatedCloud.TaskStateEnum).
_TASK_DONE = "done"
_TASK_FAILED = frozenset({"error", "canceled", "cancelled"})


class ActionKind(StrEnum):
    """What a plan action does to its VM."""

    SET_LICENSE = "setLicense"
    REMOVE_LICENSE = "removeLicense"
    MANUAL = "manual"  # listed for a person; never sent to the API


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


class PlanError(ValueError):
    """The plan (or results file) is not what it should be; the message names the field."""


class UsageError(ValueError):
    """Bad endpoint, credentials or options: a one-line message, exit code 2."""


class RunStopped(Exception):
    """The run stopped before the end of the plan: the remaining actions are recorded as not
    attempted and the rollback plan is written. The message is one line (exit code 2)."""


class KeyRefused(RunStopped):
    """The API refused the key or its rights; the run stopped before anything else."""


class Unreachable(RunStopped):
    """The endpoint could not be reached (after the call's bounded retries)."""


class Interrupted(RunStopped, KeyboardInterrupt):
    """SIGINT or SIGTERM: the run stopped after the current action. Also a KeyboardInterrupt,
    so a caller that knows nothing of RunStopped still treats it as an interruption."""


# --- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One step of a plan. `current_license` and `guest_os_family` are the VM's state when the
    plan was made: an action whose VM no longer shows both is skipped, never applied blind."""

    action: ActionKind
    service_name: str
    datacenter_id: int | None
    vm_id: int | None
    vm_name: str | None
    rule_id: str
    current_license: str | None
    target_license: str | None
    reason: str
    bypass_guest_os_family_check: bool = False
    guest_os_family: str | None = None

    @property
    def changes_licence(self) -> bool:
        return self.action is not ActionKind.MANUAL

    @property
    def vm_path(self) -> str:
        """The VM's API path, each segment quoted: plan values never reach the URL raw."""
        return (
            f"/dedicatedCloud/{quote(self.service_name, safe='')}"
            f"/datacenter/{self.datacenter_id}/vm/{self.vm_id}"
        )

    @property
    def label(self) -> str:
        name = "" if self.vm_name is None else f" {self.vm_name!r}"  # repr escapes controls
        return (
            f"{printable(self.service_name)} dc {self.datacenter_id} vm {self.vm_id}{name}"
            f" [{printable(self.rule_id)}]"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "service_name": self.service_name,
            "datacenter_id": self.datacenter_id,
            "vm_id": self.vm_id,
            "vm_name": self.vm_name,
            "rule_id": self.rule_id,
            "current_license": self.current_license,
            "target_license": self.target_license,
            "reason": self.reason,
            "bypassGuestOsFamilyCheck": self.bypass_guest_os_family_check,
            "guest_os_family": self.guest_os_family,
        }

    @classmethod
    def from_json(cls, data: object, where: str) -> Action:
        """Validate one action object; unknown keys are ignored (later versions may add some)."""
        if not isinstance(data, dict):
            raise PlanError(f"{where}: expected an object")
        fields = _Fields(data, where)
        kind_text = fields.text("action")
        try:
            kind = ActionKind(kind_text)
        except ValueError:
            choices = ", ".join(kind.value for kind in ActionKind)
            raise PlanError(f"{where}.action: expected one of {choices}") from None
        action = cls(
            action=kind,
            service_name=fields.text("service_name"),
            datacenter_id=fields.integer("datacenter_id"),
            vm_id=fields.integer("vm_id"),
            vm_name=fields.text("vm_name", nullable=True),
            rule_id=fields.text("rule_id"),
            current_license=fields.text("current_license", nullable=True),
            target_license=fields.text("target_license", nullable=True),
            reason=fields.text("reason"),
            bypass_guest_os_family_check=fields.boolean("bypassGuestOsFamilyCheck"),
            guest_os_family=fields.text("guest_os_family", nullable=True, required=False),
        )
        located = action.service_name and None not in (action.datacenter_id, action.vm_id)
        if action.changes_licence and not located:
            raise PlanError(f"{where}: {kind} needs service_name, datacenter_id and vm_id")
        if action.changes_licence and "guest_os_family" not in data:
            raise PlanError(
                f"{where}.guest_os_family: missing (a licence action is checked against the "
                "VM's guest OS before it is sent)"
            )
        if kind is ActionKind.SET_LICENSE and not action.target_license:
            raise PlanError(f"{where}.target_license: setLicense needs the licence to set")
        return action


class _Fields:
    """Typed access to one JSON object's fields, with errors that name the field."""

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self._data = data
        self._where = where

    def _get(self, key: str, required: bool) -> Any:
        if key not in self._data and required:
            raise PlanError(f"{self._where}.{key}: missing")
        return self._data.get(key)

    def text(self, key: str, nullable: bool = False, required: bool = True) -> Any:
        value = self._get(key, required)
        if value is None and (nullable or not required):
            return None
        if not isinstance(value, str):
            raise PlanError(f"{self._where}.{key}: expected a string")
        return value

    def integer(self, key: str) -> int | None:
        value = self._get(key, True)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise PlanError(f"{self._where}.{key}: expected an integer or null")
        return value

    def boolean(self, key: str) -> bool:
        value = self._get(key, True)
        if not isinstance(value, bool):
            raise PlanError(f"{self._where}.{key}: expected true or false")
        return value


@dataclass(frozen=True)
class Plan:
    """`{"snapshot_sha256": ..., "actions": [...]}`; a rollback plan also names the plan it
    undoes (`rollback_of`, that plan's sha256) and has no snapshot."""

    snapshot_sha256: str | None
    actions: tuple[Action, ...]
    rollback_of: str | None = None

    def to_text(self) -> str:
        """The canonical file text: ASCII JSON, one action per line, so reviews and diffs read
        well and the same plan always has the same sha256."""
        head = [f'  "snapshot_sha256": {json.dumps(self.snapshot_sha256)},']
        if self.rollback_of is not None:
            head.append(f'  "rollback_of": {json.dumps(self.rollback_of)},')
        lines = [json.dumps(action.to_json()) for action in self.actions]
        body = "\n" + ",\n".join(f"    {line}" for line in lines) + "\n  " if lines else ""
        return "{\n" + "\n".join(head) + f'\n  "actions": [{body}]\n' + "}\n"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_text().encode("ascii")).hexdigest()

    def counts(self) -> dict[str, int]:
        """Actions per kind, every kind present."""
        counts = Counter(action.action.value for action in self.actions)
        return {kind.value: counts.get(kind.value, 0) for kind in ActionKind}

    @classmethod
    def from_text(cls, text: str, source: str) -> Plan:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanError(f"{source}: not valid JSON: line {exc.lineno}: {exc.msg}") from None
        if not isinstance(data, dict) or not isinstance(data.get("actions"), list):
            raise PlanError(f'{source}: not a remediation plan (no "actions" list)')
        fields = _Fields(data, source)
        return cls(
            snapshot_sha256=fields.text("snapshot_sha256", nullable=True),
            rollback_of=fields.text("rollback_of", nullable=True, required=False),
            actions=tuple(
                Action.from_json(item, f"{source}: actions[{index}]")
                for index, item in enumerate(data["actions"])
            ),
        )


def read_plan(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PlanError(f"{path}: not UTF-8 text") from None
    return Plan.from_text(text, str(path))


# --- results ----------------------------------------------------------------------------------

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
# neutralises it is itself prefixed, so reading the file back is exact.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "'")


def neutralise(text: str) -> str:
    """Make a cell read as text in Excel or LibreOffice (VM names are hostile)."""
    return "'" + text if text.startswith(_FORMULA_TRIGGERS) else text


def unneutralise(text: str) -> str:
    return text[1:] if text.startswith("'") else text


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
        self._writer.writerow({key: neutralise(value) for key, value in row.items()})
        self._handle.flush()


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


# --- applying ---------------------------------------------------------------------------------


class ApiClient(Protocol):
    """The part of `ovh.Client` used here."""

    def get(self, _target: str, _need_auth: bool = True, **kwargs: Any) -> Any: ...

    def post(self, _target: str, _need_auth: bool = True, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class ApplyOptions:
    """`apply` False is a dry run. `max_changes` caps the licence calls (the dry run counts
    the ones it would send); None means no cap."""

    apply: bool = False
    max_changes: int | None = None
    task_timeout_s: float = DEFAULT_TASK_TIMEOUT_S
    poll_interval_s: float = 0.2
    max_poll_interval_s: float = 10.0
    retries: int = 4
    retry_delay_s: float = 1.0


Say = Callable[[str], None]


def printable(text: str) -> str:
    """Text safe for a terminal: control characters (newlines, escapes) shown as codes."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def _api_message(exc: Exception) -> str:
    """The API's own words, on one line (no query id, no secret: the client holds those)."""
    ovh = _ovh()
    if isinstance(exc, ovh.exceptions.HTTPError):
        return f"network error: {network_cause(exc)}"
    text = str(exc).split("\nOVH-Query-ID:")[0].strip()
    return printable(text.replace("\n", " ")) or type(exc).__name__


# urllib3 starts its messages with the connection object: `HTTPConnection(host=..., port=...): `
# (urllib3 2) or `<urllib3.connection.HTTPConnection object at 0x...>: ` (urllib3 1).
_CONNECTION_PREFIX = re.compile(r"^(?:\w+\(host=[^)]*\)|<[^>]*>): ")


def network_cause(exc: BaseException) -> str:
    """The root of a network failure in a few words ("Connection refused", "Read timed out"):
    `ovh` wraps the error of requests, which wraps urllib3's, whose text is a pile of reprs."""
    chain: list[BaseException] = []
    todo = [exc]
    while todo:  # breadth first: the causes come after what they caused
        current = todo.pop(0)
        if any(current is seen for seen in chain):
            continue
        chain.append(current)
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError
        linked = (*current.args, reason, current.__cause__, current.__context__)
        todo += [item for item in linked if isinstance(item, BaseException)]
    for item in reversed(chain):
        if isinstance(item, OSError) and item.strerror:  # the socket's own words
            return printable(item.strerror)
    for item in reversed(chain):
        if type(item).__module__ != "builtins" and item is not exc:
            text = _CONNECTION_PREFIX.sub("", str(item).splitlines()[0] if str(item) else "")
            if text and "(Caused by" not in text:
                return printable(text)
    return type(exc).__name__


def _status(exc: Exception) -> int | None:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def _retry_after(exc: Exception) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None)
    value = None if headers is None else headers.get("Retry-After")
    try:
        return None if value is None else min(300.0, max(0.0, float(value)))
    except ValueError:
        return None


def _transient(exc: Exception, method: str) -> bool:
    """Worth retrying. A POST only on 429: the call was refused unprocessed; after a 5xx or a
    network error it may have been applied, and applying twice is not ours to risk."""
    ovh = _ovh()
    status = _status(exc)
    if status == 429:
        return True
    if method != "GET":
        return False
    if isinstance(exc, ovh.exceptions.HTTPError | ovh.exceptions.InvalidResponse):
        return True
    return type(exc) is ovh.exceptions.APIError and (status is None or status >= 500)


class StopRequest:
    """Set by SIGINT or SIGTERM while a plan runs: the run ends after the current action (a
    task still running is left pending). A second signal stops at once, while the plan runs."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self.at_once = True  # a second signal raises KeyboardInterrupt (not while writing)
        self._event = threading.Event()

    def request(self, signum: int, _frame: FrameType | None = None) -> None:
        if self.signal_name is not None and self.at_once:
            raise KeyboardInterrupt
        self.signal_name = self.signal_name or signal.Signals(signum).name
        self._event.set()

    def wait(self, seconds: float) -> None:
        """Sleep, but wake up when a stop is requested."""
        self._event.wait(seconds)

    @contextmanager
    def on_signals(self) -> Iterator[None]:
        """Route SIGINT and SIGTERM here for the block (only the main thread may)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.request) for sig in signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, signal.SIG_DFL if handler is None else handler)


class _Runner:
    """Walks a plan once; the state of one run never escapes `run_plan`."""

    def __init__(
        self, client: ApiClient, options: ApplyOptions, say: Say, stop: StopRequest
    ) -> None:
        self.client = client
        self.options = options
        self.say = say
        self.stop = stop
        self.changes = 0
        self.endpoint = str(getattr(client, "_endpoint", None) or "the API endpoint")
        self.unreachable: str | None = None  # why the endpoint stopped answering
        self.sending: Action | None = None  # the action whose change was sent last

    def call(self, method: str, path: str, **body: Any) -> Any:
        ovh = _ovh()
        attempt = 0
        while True:
            try:
                if method == "GET":
                    return self.client.get(path)
                return self.client.post(path, **body)
            except ovh.exceptions.APIError as exc:
                attempt += 1
                if attempt > self.options.retries or not _transient(exc, method):
                    if isinstance(exc, ovh.exceptions.HTTPError):
                        tries = f" ({attempt} attempts)" if attempt > 1 else ""
                        self.unreachable = f"{network_cause(exc)}{tries}"
                    raise
                delay = _retry_after(exc)
                if delay is None:
                    delay = self.options.retry_delay_s * 2 ** (attempt - 1)
                time.sleep(delay)

    def process(self, action: Action) -> Result:
        ovh = _ovh()
        if not action.changes_licence:
            return Result(action, Outcome.MANUAL, action.reason)
        cap = self.options.max_changes
        if cap is not None and self.changes >= cap:
            return Result(action, Outcome.CAPPED, f"beyond --max-changes {cap}: not attempted")
        try:
            vm = self.call("GET", action.vm_path)
        except _key_refusals():
            raise
        except ovh.exceptions.ResourceNotFoundError:
            return Result(action, Outcome.SKIPPED, "the VM no longer exists")
        except ovh.exceptions.APIError as exc:
            return Result(action, Outcome.FAILED, f"could not read the VM: {_api_message(exc)}")
        previous = _text(_field(vm, "license"))
        changed = _changed(action, vm)
        if changed is not None:
            return Result(action, Outcome.SKIPPED, changed, previous_license=previous)
        self.changes += 1
        if not self.options.apply:
            return Result(action, Outcome.WOULD_APPLY, "", previous_license=previous)
        return self.send(action, previous)

    def send(self, action: Action, previous: str | None) -> Result:
        ovh = _ovh()
        if action.action is ActionKind.SET_LICENSE:
            path = action.vm_path + "/setLicense"
            body = {
                "kmsLicense": action.target_license,
                "bypassGuestOsFamilyCheck": action.bypass_guest_os_family_check,
            }
        else:
            path, body = action.vm_path + "/removeLicense", {}
        self.sending = action
        try:
            task = self.call("POST", path, **body)
        except _key_refusals():
            raise
        except ovh.exceptions.APIError as exc:
            status = _status(exc)
            message = f"HTTP {status}: {_api_message(exc)}" if status else _api_message(exc)
            if status is not None and status < 500:  # refused (a 400 from the guest-OS check)
                return Result(action, Outcome.FAILED, message, previous_license=previous)
            # A 5xx, a lost connection or a garbled answer: the change may have been made, so
            # it is pending, which the rollback plan covers (its own check skips it if not).
            message += " (the change may or may not have been made: run a dry run to see)"
            return Result(action, Outcome.PENDING, message, previous_license=previous)
        return self.follow(action, previous, task)

    def follow(self, action: Action, previous: str | None, task: Any) -> Result:
        """Poll the task until it ends or the timeout passes, then read the VM once more."""
        ovh = _ovh()
        task_id, state = _field(task, "taskId"), str(_field(task, "state"))
        if not isinstance(task_id, int) or isinstance(task_id, bool):
            return Result(
                action, Outcome.PENDING, "the API answered no task id", previous_license=previous
            )
        path = f"/dedicatedCloud/{quote(action.service_name, safe='')}/task/{task_id}"
        started = time.monotonic()
        deadline = started + self.options.task_timeout_s
        interval = self.options.poll_interval_s
        while state != _TASK_DONE and state not in _TASK_FAILED:
            if self.stop.signal_name is not None:
                return Result(
                    action,
                    Outcome.PENDING,
                    f"task still {state} when the run was stopped by {self.stop.signal_name}",
                    previous_license=previous,
                    task_id=task_id,
                    task_state=state,
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Result(
                    action,
                    Outcome.PENDING,
                    f"task still {state} after {self.options.task_timeout_s:g} s",
                    previous_license=previous,
                    task_id=task_id,
                    task_state=state,
                )
            self.stop.wait(min(interval, remaining))
            interval = min(interval * 1.5, self.options.max_poll_interval_s)
            try:
                state = str(_field(self.call("GET", path), "state"))
            except ovh.exceptions.APIError as exc:
                return Result(
                    action,
                    Outcome.PENDING,
                    f"could not follow task {task_id}: {_api_message(exc)}",
                    previous_license=previous,
                    task_id=task_id,
                    task_state=state,
                )
        elapsed = f"task {task_id} {state} in {time.monotonic() - started:.1f} s"
        if state != _TASK_DONE:
            return Result(
                action, Outcome.FAILED, elapsed, previous, task_id=task_id, task_state=state
            )
        try:
            after = _text(_field(self.call("GET", action.vm_path), "license"))
        except ovh.exceptions.APIError as exc:
            elapsed += f"; could not read the VM again: {_api_message(exc)}"
            after = None
        else:
            if after != action.target_license:
                elapsed += f"; the VM now shows {after!r} (the API may lag)"
        return Result(action, Outcome.APPLIED, elapsed, previous, after, task_id, state)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _field(answer: object, key: str) -> Any:
    """A field of an API object; None when the answer is not an object (never a crash)."""
    return answer.get(key) if isinstance(answer, dict) else None


def _no_licence(licence: str | None) -> str | None:
    """The API says "no licence" two ways (null, and in words after a removal); one here."""
    return None if licence in (None, "", UNLICENSED) else licence


def _changed(action: Action, vm: object) -> str | None:
    """Why the VM no longer matches the plan, or None when it still does."""
    if not isinstance(vm, dict):
        return "the API answered something that is not a VM"
    if vm.get("powerState") == "deleted":
        return "the VM is deleted"
    licence = _text(vm.get("license")) or None
    if _no_licence(licence) != _no_licence(action.current_license):
        return f"licence is now {licence!r}, the plan expected {action.current_license!r}"
    guest = _text(vm.get("guestOsFamily")) or None
    if guest != (action.guest_os_family or None):
        return f"guest OS is now {guest!r}, the plan expected {action.guest_os_family!r}"
    return None


def run_plan(
    client: ApiClient,
    plan: Plan,
    options: ApplyOptions,
    record: Callable[[Result], None],
    say: Say = print,
    stop: StopRequest | None = None,
) -> list[Result]:
    """Process every action in plan order; `record` sees each result as soon as it exists.

    The run stops after recording the action in hand when the key is refused (KeyRefused: 403
    NOT_GRANTED_CALL on the first POST, for a read-only key), when the endpoint cannot be
    reached (Unreachable), or when `stop` is requested or a KeyboardInterrupt arrives
    (Interrupted); the remaining actions are then recorded as not attempted.
    """
    stop = stop or StopRequest()
    runner = _Runner(client, options, say, stop)
    results: list[Result] = []

    def keep(result: Result) -> None:
        results.append(result)
        record(result)

    total = len(plan.actions)
    for index, action in enumerate(plan.actions, start=1):
        try:
            result = runner.process(action)
        except _key_refusals() as exc:
            keep(Result(action, Outcome.REFUSED, _api_message(exc)))
            stopped: RunStopped = KeyRefused(_refusal_message(exc, action, _made(results)))
            why = "the run stopped at a refusal"
        except KeyboardInterrupt:
            if runner.sending is action:
                keep(Result(action, Outcome.PENDING, "interrupted after the change was sent"))
            else:
                keep(Result(action, Outcome.NOT_ATTEMPTED, "interrupted"))
            why = "the run was interrupted"
            stopped = Interrupted(f"interrupted at {action.label}; {_made(results)}")
        else:
            keep(result)
            if result.outcome not in (Outcome.MANUAL, Outcome.CAPPED):
                say(_progress_line(index, total, result))
            if runner.unreachable is not None:
                why = f"the run stopped: cannot reach {runner.endpoint}"
                stopped = Unreachable(
                    f"cannot reach {runner.endpoint}: {runner.unreachable}, at {action.label}"
                    f"; {_made(results)}"
                )
            elif stop.signal_name is not None:
                why = f"the run was stopped by {stop.signal_name}"
                stopped = Interrupted(
                    f"stopped by {stop.signal_name} after {action.label}; {_made(results)}"
                )
            else:
                continue
        left = plan.actions[index:]
        for later in left:
            keep(Result(later, Outcome.NOT_ATTEMPTED, why))
        if not isinstance(stopped, KeyRefused):
            stopped = type(stopped)(f"{stopped}; {len(left)} action(s) not attempted")
        raise stopped from None
    return results


def _made(results: Sequence[Result]) -> str:
    made = sum(result.outcome in (Outcome.APPLIED, Outcome.PENDING) for result in results)
    return f"{made} change(s) made, see the results" if made else "nothing was changed"


def _refusal_message(exc: Exception, action: Action, made: str) -> str:
    ovh = _ovh()
    kind = type(exc).__name__
    if isinstance(exc, ovh.exceptions.NotGrantedCall):
        why = (
            "this consumer key may not change licences: remediation needs a key with POST "
            "rights on /dedicatedCloud/* (see the README)"
        )
    else:
        why = "the API refused the credentials"
    return f"{action.label}: {kind}: {_api_message(exc)}: {why}; {made}; nothing else attempted"


def _progress_line(index: int, total: int, result: Result) -> str:
    action = result.action
    change = (
        f"{action.current_license!r} -> {action.target_license!r}"
        if action.action is ActionKind.SET_LICENSE
        else f"remove {action.current_license!r}"
    )
    bypass = " (guest-OS check bypassed)" if action.bypass_guest_os_family_check else ""
    tail = f": {printable(result.message)}" if result.message else ""
    return (
        f"[{index}/{total}] {action.action.value} {action.label}: {change}{bypass}"
        f": {result.outcome.value}{tail}"
    )


# --- one run, with its files ------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """What a run did and where it wrote it."""

    results: tuple[Result, ...]
    results_path: Path
    rollback_path: Path | None

    def counts(self) -> dict[str, int]:
        counts = Counter(result.outcome.value for result in self.results)
        return {outcome.value: counts[outcome.value] for outcome in Outcome if counts[outcome]}

    @property
    def exit_code(self) -> int:
        failed = any(r.outcome in (Outcome.FAILED, Outcome.PENDING) for r in self.results)
        return EXIT_FAILED if failed else EXIT_OK


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@contextmanager
def _new_file(folder: Path, stem: str, suffix: str) -> Iterator[tuple[Path, IO[str]]]:
    """Create a file that did not exist (never overwrite an earlier run's record)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{folder}: cannot create: {exc.strerror or exc}") from None
    for attempt in range(100):
        path = folder / (f"{stem}{suffix}" if attempt == 0 else f"{stem}-{attempt}{suffix}")
        try:
            handle = path.open("x", encoding="utf-8", newline="")
        except FileExistsError:
            continue
        except OSError as exc:
            raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
        with handle:
            yield path, handle
        return
    raise UsageError(f"{folder}: too many files named {stem}*{suffix}")


def remediate(
    client: ApiClient,
    plan: Plan,
    options: ApplyOptions,
    results_dir: Path,
    say: Say = print,
) -> Report:
    """Run the plan, writing the results CSV (and, with --apply, the rollback plan) into
    `results_dir`. SIGINT and SIGTERM stop the run after the current action. A run that stops
    early (RunStopped) still leaves both files behind, and its message says where."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    mode = "apply" if options.apply else "dry-run"
    counts = plan.counts()
    say(
        f"plan sha256 {plan.sha256}: {counts['setLicense']} setLicense, "
        f"{counts['removeLicense']} removeLicense, {counts['manual']} manual"
        + (f" (rollback of {plan.rollback_of})" if plan.rollback_of else "")
    )
    if not options.apply:
        say("dry run: nothing will be changed (add --apply to act)")
    rollback_path: Path | None = None
    stopped: RunStopped | None = None
    stop = StopRequest()
    with (
        stop.on_signals(),
        _new_file(results_dir, f"remediation-{mode}-{stamp}", ".csv") as (
            path,
            handle,
        ),
    ):
        results_file = ResultsFile(handle, plan.sha256)
        try:
            results = run_plan(client, plan, options, results_file.write, say, stop)
        except RunStopped as exc:
            stopped = exc
        finally:
            stop.at_once = False  # the record of what was done is written whatever comes
            if options.apply:
                rollback = rollback_plan(results_file.rows, str(path))
                with _new_file(results_dir, f"remediation-rollback-{stamp}", ".json") as (
                    rollback_path,
                    out,
                ):
                    out.write(rollback.to_text())
                say(f"rollback plan: {rollback_path} ({len(rollback.actions)} actions)")
            say(f"results: {path}")
    if stopped is not None:
        where = f"rollback plan: {rollback_path}" if rollback_path else f"results: {path}"
        raise type(stopped)(f"{stopped}; {where}") from None
    report = Report(tuple(results), path, rollback_path)
    summary = ", ".join(f"{count} {outcome}" for outcome, count in report.counts().items())
    say(f"{'applied' if options.apply else 'dry run'}: {summary or 'no actions'}")
    return report


# --- command line -----------------------------------------------------------------------------


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def add_apply_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by `ovh-license-audit remediate` and `remediate.py`."""
    parser.add_argument("--apply", action="store_true", help="make the changes (default: dry run)")
    parser.add_argument(
        "--max-changes",
        type=_non_negative_int,
        metavar="N",
        help="send at most N licence changes (default: no cap)",
    )
    parser.add_argument(
        "--endpoint",
        metavar="NAME|URL",
        help="ovh endpoint name (ovh-eu, ...) or a base URL ending in /1.0 "
        "(default: OVH_ENDPOINT or ovh.conf)",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="where to write the results CSV and the rollback plan (default: .)",
    )
    parser.add_argument(
        "--task-timeout",
        type=_positive_float,
        default=DEFAULT_TASK_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long to wait for each licence task (default {DEFAULT_TASK_TIMEOUT_S:g})",
    )


def options_from_args(args: argparse.Namespace) -> ApplyOptions:
    return ApplyOptions(
        apply=args.apply, max_changes=args.max_changes, task_timeout_s=args.task_timeout
    )


def register_endpoint(value: str | None) -> str | None:
    """An `ovh.client.ENDPOINTS` name for a name or a base URL (registered under its text)."""
    ovh = _ovh()
    if value is None or value in ovh.client.ENDPOINTS:
        return value
    if value.startswith(("http://", "https://")) and value.rstrip("/").endswith("/1.0"):
        url = value.rstrip("/")
        ovh.client.ENDPOINTS[url] = url
        return url
    names = ", ".join(sorted(ovh.client.ENDPOINTS))
    raise UsageError(f"--endpoint {value!r}: not an endpoint name ({names}) nor a URL ending /1.0")


def make_client(endpoint: str | None) -> Any:
    """An `ovh.Client` with credentials from OVH_* variables or ovh.conf."""
    ovh = _ovh()
    try:
        client = ovh.Client(endpoint=register_endpoint(endpoint), timeout=(10, 60))
    except ovh.exceptions.InvalidRegion:
        raise UsageError("no endpoint: give --endpoint or set OVH_ENDPOINT") from None
    except ovh.exceptions.InvalidConfiguration as exc:
        raise UsageError(f"credentials: {exc}") from None
    if not client._consumer_key:
        raise UsageError("credentials: no consumer key (set OVH_CONSUMER_KEY or ovh.conf)")
    return client


def main(argv: Sequence[str] | None, embedded_plan: str) -> int:
    """`remediate.py`: the embedded plan unless --plan or --rollback names another."""
    parser = argparse.ArgumentParser(
        prog="remediate.py",
        description="Apply an ovh-license-audit remediation plan (dry run unless --apply).",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--plan", type=Path, help="a plan file instead of the embedded plan")
    source.add_argument(
        "--rollback", type=Path, metavar="RESULTS", help="undo the changes of a results CSV"
    )
    add_apply_arguments(parser)
    args = parser.parse_args(argv)
    try:
        if args.rollback is not None:
            plan = rollback_plan(read_results(args.rollback), str(args.rollback))
        elif args.plan is not None:
            plan = read_plan(args.plan)
        else:
            plan = Plan.from_text(embedded_plan, "embedded plan")
        client = make_client(args.endpoint)
        report = remediate(client, plan, options_from_args(args), args.results_dir)
    except (PlanError, UsageError, RunStopped) as exc:
        print(f"remediate.py: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("remediate.py: interrupted (the results file records what was done)", file=sys.stderr)
        return EXIT_ERROR
    return report.exit_code
