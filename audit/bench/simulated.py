"""Start `ovh-license-audit simulate` in a child process, so the server does not share our GIL."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def simulator_process(*options: str) -> Iterator[str]:
    """Yield the base URL printed by `simulate --port 0 ...`; stop the process afterwards."""
    command = [sys.executable, "-m", "audit", "simulate", "--port", "0", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise RuntimeError(f"simulator did not start: {line!r}")
        yield line.removeprefix("listening on ")
    finally:
        process.terminate()
        process.wait(timeout=10)
