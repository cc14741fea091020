"""One piece of work in a forked process beside the caller's, for the second core.

The child is a fork: it inherits what the caller has built (the run's typed records) with
nothing pickled, and sends back only its outcome. It dies with the caller (Linux's parent-death
signal): a job killed with SIGKILL leaves no process behind still writing into its staging
folder, or holding that folder's lock. Elsewhere (no fork, or no parent-death signal) the work
runs in the caller's process, before its own, so the result is the same either way.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection

from audit.support.fsutil import close_inherited_locks
from audit.support.interrupts import Interrupted, taken_as_received

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def can_fork() -> bool:
    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()


def _die_with(parent: int) -> None:
    """SIGKILL this process when `parent` ends, and end now if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        os._exit(1)


def _child(work: Callable[[], None], outcome: Connection, parent: int) -> None:
    # The inherited objects are never collected here: a collection would write to every
    # page it walks and copy them all, doubling the memory the two processes share.
    gc.freeze()
    try:
        _die_with(parent)
        close_inherited_locks()  # the caller's staging folder is locked by the caller alone
        work()
    except BaseException as exc:  # the caller raises it (KeyboardInterrupt too)
        exc.add_note("".join(traceback.format_exception(exc)).rstrip("\n"))  # the child's
        try:
            outcome.send(exc)
        except Exception:  # an exception that does not pickle: its text
            outcome.send(RuntimeError(f"{type(exc).__name__}: {exc}"))
    else:
        outcome.send(None)
    finally:
        outcome.close()


@contextlib.contextmanager
def beside(work: Callable[[], None], what: str, parallel: bool = True) -> Iterator[None]:
    """Run `work` in a forked process while the body runs; on leaving, wait for it and raise
    its error. An error in the body stops the child first. `what` names it in errors."""
    if not parallel or not can_fork():
        work()
        yield
        return
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(work, send, os.getpid()), name=what, daemon=True)
    process.start()
    send.close()
    try:
        yield
        try:
            error = receive.recv()
        except EOFError:
            error = RuntimeError(f"{what}: its process ended with code {_code(process)}")
    except BaseException:
        process.terminate()
        raise
    finally:
        process.join()
        receive.close()
    if isinstance(error, Interrupted):
        raise taken_as_received(error)
    if error is not None:
        raise error


def _code(process: multiprocessing.process.BaseProcess) -> int | None:
    process.join()
    return process.exitcode
