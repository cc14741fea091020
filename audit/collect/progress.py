"""A one-line progress display on stderr, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
import threading
import time


class Progress:
    """Counts calls and VMs; redraws at most ten times a second; silent unless enabled."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled and sys.stderr.isatty()
        self._lock = threading.Lock()
        self._calls = 0
        self._vms_listed = 0
        self._vms_fetched = 0
        self._last_draw = 0.0

    def update(self, calls: int | None = None, vms_listed: int = 0, vms_fetched: int = 0) -> None:
        if not self._enabled:
            return
        with self._lock:
            if calls is not None:
                self._calls = calls
            self._vms_listed += vms_listed
            self._vms_fetched += vms_fetched
            now = time.monotonic()
            if now - self._last_draw < 0.1:
                return
            self._last_draw = now
            self._draw()

    def _draw(self) -> None:
        listed = max(self._vms_listed, 1)
        width = 30
        filled = min(width, width * self._vms_fetched // listed)
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(
            f"\rcollecting [{bar}] {self._vms_fetched}/{self._vms_listed} VMs, {self._calls} calls"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self._enabled:
            with self._lock:
                self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()
