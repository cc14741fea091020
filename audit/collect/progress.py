"""Progress of a collection on stderr: a redrawn bar on a terminal, log lines otherwise.

Under cron or in CI stderr is a file or a pipe, where a bar drawn with carriage returns is
noise; there a plain line every `LOG_EVERY_S` seconds shows a long collection is alive. A
collection shorter than that prints nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

LOG_EVERY_S = 30.0
REDRAW_EVERY_S = 0.1


class Progress:
    """Counts calls and VMs; silent unless enabled."""

    def __init__(
        self,
        enabled: bool,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        log_every_s: float = LOG_EVERY_S,
    ) -> None:
        self._stream = sys.stderr if stream is None else stream
        self._enabled = enabled
        self._tty = enabled and self._stream.isatty()
        self._clock = clock
        self._every = REDRAW_EVERY_S if self._tty else log_every_s
        self._lock = threading.Lock()
        self._calls = 0
        self._vms_listed = 0
        self._vms_fetched = 0
        self._started = clock()
        self._last_draw = 0.0 if self._tty else self._started
        self._lines = 0

    def update(self, calls: int | None = None, vms_listed: int = 0, vms_fetched: int = 0) -> None:
        if not self._enabled:
            return
        with self._lock:
            if calls is not None:
                self._calls = calls
            self._vms_listed += vms_listed
            self._vms_fetched += vms_fetched
            now = self._clock()
            if now - self._last_draw < self._every:
                return
            self._last_draw = now
            self._draw(now)

    def _counts(self) -> str:
        return f"{self._vms_fetched}/{self._vms_listed} VMs, {self._calls} calls"

    def _draw(self, now: float) -> None:
        if self._tty:
            listed = max(self._vms_listed, 1)
            width = 30
            filled = min(width, width * self._vms_fetched // listed)
            bar = "#" * filled + "-" * (width - filled)
            self._stream.write(f"\rcollecting [{bar}] {self._counts()}")
        else:
            self._stream.write(f"collecting: {self._counts()} after {now - self._started:.0f}s\n")
            self._lines += 1
        self._stream.flush()

    def close(self) -> None:
        if not self._enabled:
            return
        with self._lock:
            if self._tty:
                self._draw(self._clock())
                self._stream.write("\n")
            elif self._lines:  # a long collection: say that it ended
                elapsed = self._clock() - self._started
                self._stream.write(f"collected: {self._counts()} in {elapsed:.0f}s\n")
            self._stream.flush()
