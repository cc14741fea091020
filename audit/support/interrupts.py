"""SIGINT and SIGTERM end a command the same way: an exception that unwinds cleanly.

Both signals raise `Interrupted` (a KeyboardInterrupt, so code that already cleans up after
Ctrl-C does the same for a `kill`) in the main thread; every `with` block on the way out runs,
so staging folders and temporary files are removed. The exit code is 128 + the signal number
(130, 143), what a shell reports for a process that the signal ended. A short section that
must not be cut in half (renaming a run folder into place) defers them until it ends.

Only the first signal interrupts: the ones after it (coreutils `timeout` sends SIGTERM twice,
an impatient user presses Ctrl-C again) are noted and dropped, so the cleanup the first one
started is never cut short and the command still ends with one line and 130 or 143.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The command was asked to stop by `signum`."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __reduce__(self) -> tuple[type[Interrupted], tuple[int]]:
        """Pickled by its signal, so the workbook's process can hand it to the job's."""
        return (Interrupted, (self.signum,))


class _State:
    """Whether a protected section runs, and the signal that arrived meanwhile."""

    deferring = 0
    pending: int | None = None
    interrupted: int | None = None  # the signal that interrupted the command, once it has


def _raise(signum: int, frame: FrameType | None) -> None:
    if _State.interrupted is not None:
        return  # already unwinding: a second signal must not cut the cleanup short
    if _State.deferring:
        _State.pending = _State.pending or signum
        return
    _State.interrupted = signum
    abandon_quietly()
    raise Interrupted(signum)


def taken_as_received(exc: Interrupted) -> Interrupted:
    """`exc`, which another process of this command (the workbook's) stopped with, as this
    process's own interrupt: a later signal no longer cuts the cleanup short."""
    if _State.interrupted is None:
        _State.interrupted = exc.signum
        abandon_quietly()
    return exc


def abandon_quietly() -> None:
    """The command's work is being abandoned (an interrupt, a crash): half-built objects
    (openpyxl's row generators, an open zip) complain when they are collected; their noise is
    dropped until the command ends, so it still ends with one line."""
    sys.unraisablehook = _drop_unraisable


def _drop_unraisable(unraisable: Any) -> None:
    """An unraisable-exception hook that says nothing (see `_raise`)."""


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `Interrupted` for the duration of a command.

    A signal the parent set to be ignored (a job started with `nohup`, or `&` in a script)
    stays ignored; handlers are only installed from the main thread, and put back on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {}
    hook = sys.unraisablehook
    _State.interrupted = _State.pending = None
    for signum in HANDLED:
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN:
            continue
        previous[signum] = current
        signal.signal(signum, _raise)
    try:
        yield
    finally:
        if sys.unraisablehook is _drop_unraisable:
            gc.collect()  # what the interrupt abandoned goes now, while its noise is dropped
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = hook


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Let the block finish before a SIGINT or SIGTERM that arrives during it takes effect."""
    _State.deferring += 1
    try:
        yield
    finally:
        _State.deferring -= 1
    if not _State.deferring and _State.pending is not None:
        signum, _State.pending = _State.pending, None
        _raise(signum, None)
