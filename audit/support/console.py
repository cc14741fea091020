"""Standard output whose reader may go away (`run ... | head`): shared by the command line and
every command that prints a summary after its work is done."""

from __future__ import annotations

import contextlib
import os
import select
import sys
from collections.abc import Iterator


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (poll(2) reports POLLERR)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def quiet_stdout() -> None:
    """Point stdout at /dev/null once its reader has gone, so that the interpreter's last
    flush does not fail again (the Python docs' note on SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's capture)
        return


@contextlib.contextmanager
def stdout_may_close() -> Iterator[None]:
    """Print a summary whose reader may stop early (`| head`): the rest is dropped quietly."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_stdout()
