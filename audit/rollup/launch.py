"""One child process per account: `python -m audit run ...` into `DIR/<name>/`.

Each child is exactly a single-account run (its own run folders, history and exit code). Its
environment is the parent's without any OVHcloud credential (no `OVH_*` variable, no other
account's `<prefix>OVH_*`), plus its own account's keys as the plain `OVH_*` variables, so
one account's secrets never reach another's process. Its output is passed on line by line,
each line headed by the account's name.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TextIO

from audit.config.accounts import (
    CREDENTIAL_VARIABLES,
    Account,
    CredentialsMissing,
    account_credentials,
)
from audit.model.rollup import Outcome
from audit.rollup.folders import manifest_digest
from audit.support.errors import ExitCode

# The command that runs one account; tests put a recorder in front of it. `-P`: the working
# folder is not put on the module path, so an output folder called `audit` is never imported.
CHILD_COMMAND: tuple[str, ...] = (sys.executable, "-P", "-m", "audit")
_ERROR = "ovh-license-audit: error: "
_INTERRUPTED = "ovh-license-audit: interrupted"
# Every name the `ovh` client reads credentials or the endpoint from, prefixed or not.
_OVH_NAMES = (*CREDENTIAL_VARIABLES, "OVH_ENDPOINT")


def is_ovh_variable(name: str) -> bool:
    """An OVHcloud variable of the parent or of any account (`ALPHA_OVH_CONSUMER_KEY`)."""
    upper = name.upper()
    return upper.startswith("OVH_") or upper.endswith(_OVH_NAMES)


def child_environment(parent: Mapping[str, str], credentials: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment minus every OVHcloud variable, plus this account's keys."""
    environment = {name: value for name, value in parent.items() if not is_ovh_variable(name)}
    environment.update(credentials)
    return environment


@dataclass(frozen=True)
class ChildOptions:
    """What every account's run shares: the period and the flags passed on to it."""

    period: str
    flags: tuple[str, ...] = ()


def child_arguments(account: Account, out_dir: Path, options: ChildOptions) -> list[str]:
    """`run` for one account into `out_dir/<name>/`, as a user would type it."""
    arguments = [
        "run",
        "--endpoint",
        account.endpoint,
        "--out",
        str(out_dir / account.name),
        "--period",
        options.period,
    ]
    if account.exceptions is not None:
        arguments += ["--exceptions", str(account.exceptions)]
    if account.config is not None:
        arguments += ["--config", str(account.config)]
    return [*arguments, *options.flags]


class _Console:
    """Lines from several children, each whole and headed by its account's name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def line(self, stream: TextIO, name: str, text: str) -> None:
        with self._lock:
            try:
                stream.write(f"[{name}] {text}\n")
                stream.flush()
            except (BrokenPipeError, ValueError):  # a reader that went away loses the rest
                pass


def _pump(source: IO[str], emit: Callable[[str], None], kept: list[str] | None = None) -> None:
    for raw in source:
        text = raw.rstrip("\n")
        emit(text)
        if kept is not None:
            kept.append(text)


def _reason(code: int, errors: Sequence[str], wrote: bool) -> str | None:
    """The child's own one-line error (or `interrupted`); None for a run that wrote its
    folder and said nothing wrong; else its code and last line (a traceback's exception)."""
    for text in reversed(errors):
        if text.startswith(_ERROR):
            return text.removeprefix(_ERROR)
        if text.startswith(_INTERRUPTED):
            return "interrupted"
    if wrote:
        return None
    last = next((text for text in reversed(errors) if text.strip()), None)
    return f"exited with code {code}" + ("" if last is None else f": {last}")


class Launcher:
    """Runs the accounts' children, at most `parallel` at a time, and stops them all when
    the parent is interrupted (each then removes its staging folder, as a run does)."""

    def __init__(
        self,
        out_dir: Path,
        options: ChildOptions,
        environ: Mapping[str, str],
        parallel: int = 1,
    ) -> None:
        self.out_dir = out_dir
        self.options = options
        self.environ = dict(environ)
        self.parallel = parallel
        self._console = _Console()
        self._lock = threading.Lock()
        self._running: list[subprocess.Popen[str]] = []
        self._stopping = False

    def run(self, accounts: Sequence[Account]) -> list[Outcome]:
        """Every account's outcome, in the accounts' order."""
        with ThreadPoolExecutor(self.parallel) as pool, self._stopping_children():
            futures = [pool.submit(self.run_one, account) for account in accounts]
            return [future.result() for future in futures]

    @contextmanager
    def _stopping_children(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            with self._lock:
                self._stopping = True
                for child in self._running:
                    child.terminate()  # SIGTERM: the child cleans up and exits 143
            raise

    def run_one(self, account: Account) -> Outcome:
        run_dir = self.out_dir / account.name / self.options.period
        before = manifest_digest(run_dir)
        try:
            credentials = account_credentials(account, self.environ)
        except CredentialsMissing as exc:
            self._console.line(sys.stderr, account.name, f"{_ERROR}credentials: {exc}")
            return Outcome(account.name, int(ExitCode.INPUT), f"credentials: {exc}", False, before)
        command = [*CHILD_COMMAND, *child_arguments(account, self.out_dir, self.options)]
        errors: list[str] = []
        with self._lock:
            if self._stopping:
                return Outcome(account.name, 130, "interrupted", False, before)
            try:
                child = subprocess.Popen(
                    command,
                    env=child_environment(self.environ, credentials),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    encoding="utf-8",
                    errors="backslashreplace",
                )
            except OSError as exc:
                reason = f"cannot start {command[0]}: {exc.strerror or exc}"
                self._console.line(sys.stderr, account.name, f"{_ERROR}{reason}")
                return Outcome(account.name, int(ExitCode.INPUT), reason, False, before)
            self._running.append(child)
        assert child.stdout is not None and child.stderr is not None
        pumps = [
            threading.Thread(
                target=_pump,
                args=(child.stdout, lambda t: self._console.line(sys.stdout, account.name, t)),
                daemon=True,
            ),
            threading.Thread(
                target=_pump,
                args=(
                    child.stderr,
                    lambda t: self._console.line(sys.stderr, account.name, t),
                    errors,
                ),
                daemon=True,
            ),
        ]
        for pump in pumps:
            pump.start()
        code = child.wait()
        if code < 0:  # ended by a signal it did not handle: what a shell would report
            code = 128 - code
        for pump in pumps:
            pump.join()
        with self._lock:
            self._running.remove(child)
        after = manifest_digest(run_dir)
        # 0 and 1 always leave the run folder in place (maybe the same bytes as before); a
        # 3 may be a run written incomplete, or a refusal that wrote nothing.
        wrote = after is not None and (after != before or code in (0, 1))
        return Outcome(account.name, code, _reason(code, errors, wrote), wrote, after)
