"""Running a plan against the API: each action checked, sent, followed; the run's files.

A run stops early, after recording the action in hand, when the key is refused, when the
endpoint cannot be reached, or on SIGINT or SIGTERM (see RunStopped).
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any, Protocol
from urllib.parse import quote

from audit.runtime.exits import ExitCode, UsageError
from audit.runtime.ovhapi import (
    api_message,
    http_status,
    import_ovh,
    key_refusals,
    network_cause,
    retry_after,
    transient,
)
from audit.runtime.plan import Action, ActionKind, Plan
from audit.runtime.results import Outcome, Result, ResultsFile, rollback_plan
from audit.runtime.text import UNLICENSED, printable

DEFAULT_TASK_TIMEOUT_S = 900.0

# Task states after which nothing more happens (dedicatedCloud.TaskStateEnum).
_TASK_DONE = "done"
_TASK_FAILED = frozenset({"error", "canceled", "cancelled"})


class RunStopped(Exception):
    """The run stopped before the end of the plan: the remaining actions are recorded as not
    attempted and the rollback plan is written. The message is one line (exit code 2)."""

    results_path: Path | None = None  # set by `remediate`: the results file of the run


class KeyRefused(RunStopped):
    """The API refused the key or its rights; the run stopped before anything else."""


class Unreachable(RunStopped):
    """The endpoint could not be reached (after the call's bounded retries)."""


class StoppedBySignal(RunStopped, KeyboardInterrupt):
    """SIGINT or SIGTERM: the run stopped after the current action. Also a KeyboardInterrupt,
    so a caller that knows nothing of RunStopped still treats it as an interruption."""


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
        ovh = import_ovh()
        attempt = 0
        while True:
            try:
                if method == "GET":
                    return self.client.get(path)
                return self.client.post(path, **body)
            except ovh.exceptions.APIError as exc:
                attempt += 1
                # A POST is retried only on 429, refused unprocessed: after a 5xx or a network
                # error it may have been applied, and applying twice is not ours to risk.
                retryable = transient(exc) if method == "GET" else http_status(exc) == 429
                if attempt > self.options.retries or not retryable:
                    if isinstance(exc, ovh.exceptions.HTTPError):
                        tries = f" ({attempt} attempts)" if attempt > 1 else ""
                        self.unreachable = f"{network_cause(exc)}{tries}"
                    raise
                delay = retry_after(getattr(exc, "response", None))
                if delay is None:
                    delay = self.options.retry_delay_s * 2 ** (attempt - 1)
                time.sleep(delay)

    def process(self, action: Action) -> Result:
        ovh = import_ovh()
        if not action.changes_licence:
            return Result(action, Outcome.MANUAL, action.reason)
        cap = self.options.max_changes
        if cap is not None and self.changes >= cap:
            return Result(action, Outcome.CAPPED, f"beyond --max-changes {cap}: not attempted")
        try:
            vm = self.call("GET", action.vm_path)
        except key_refusals():
            raise
        except ovh.exceptions.ResourceNotFoundError:
            return Result(action, Outcome.SKIPPED, "the VM no longer exists")
        except ovh.exceptions.APIError as exc:
            return Result(action, Outcome.FAILED, f"could not read the VM: {api_message(exc)}")
        previous = _text(_field(vm, "license"))
        changed = _changed(action, vm)
        if changed is not None:
            return Result(action, Outcome.SKIPPED, changed, previous_license=previous)
        self.changes += 1
        if not self.options.apply:
            return Result(action, Outcome.WOULD_APPLY, "", previous_license=previous)
        return self.send(action, previous)

    def send(self, action: Action, previous: str | None) -> Result:
        ovh = import_ovh()
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
        except key_refusals():
            raise
        except ovh.exceptions.APIError as exc:
            status = http_status(exc)
            message = f"HTTP {status}: {api_message(exc)}" if status else api_message(exc)
            if status is not None and status < 500:  # refused (a 400 from the guest-OS check)
                return Result(action, Outcome.FAILED, message, previous_license=previous)
            # A 5xx, a lost connection or a garbled answer: the change may have been made, so
            # it is pending, which the rollback plan covers (its own check skips it if not).
            message += " (the change may or may not have been made: run a dry run to see)"
            return Result(action, Outcome.PENDING, message, previous_license=previous)
        return self.follow(action, previous, task)

    def follow(self, action: Action, previous: str | None, task: Any) -> Result:
        """Poll the task until it ends or the timeout passes, then read the VM once more."""
        ovh = import_ovh()
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
                    f"could not follow task {task_id}: {api_message(exc)}",
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
            elapsed += f"; could not read the VM again: {api_message(exc)}"
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
    (StoppedBySignal); the remaining actions are then recorded as not attempted.
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
        except key_refusals() as exc:
            keep(Result(action, Outcome.REFUSED, api_message(exc)))
            stopped: RunStopped = KeyRefused(_refusal_message(exc, action, _made(results)))
            why = "the run stopped at a refusal"
        except KeyboardInterrupt:
            if runner.sending is action:
                keep(Result(action, Outcome.PENDING, "interrupted after the change was sent"))
            else:
                keep(Result(action, Outcome.NOT_ATTEMPTED, "interrupted"))
            why = "the run was interrupted"
            stopped = StoppedBySignal(f"interrupted at {action.label}; {_made(results)}")
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
                stopped = StoppedBySignal(
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
    ovh = import_ovh()
    kind = type(exc).__name__
    if isinstance(exc, ovh.exceptions.NotGrantedCall):
        why = (
            "this consumer key may not change licences: remediation needs a key that may also "
            "POST /dedicatedCloud/*/datacenter/*/vm/*/setLicense and .../removeLicense "
            "(`ovh-license-audit auth request --remediation` asks for one)"
        )
    else:
        why = "the API refused the credentials"
    return f"{action.label}: {kind}: {api_message(exc)}: {why}; {made}; nothing else attempted"


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
    def exit_code(self) -> ExitCode:
        failed = any(r.outcome in (Outcome.FAILED, Outcome.PENDING) for r in self.results)
        return ExitCode.FINDINGS if failed else ExitCode.OK


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
        error = type(stopped)(f"{stopped}; {where}")
        error.results_path = path
        raise error from None
    report = Report(tuple(results), path, rollback_path)
    summary = ", ".join(f"{count} {outcome}" for outcome, count in report.counts().items())
    say(f"{'applied' if options.apply else 'dry run'}: {summary or 'no actions'}")
    return report
