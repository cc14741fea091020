"""The cyclic garbage collector paused while a step builds many objects that hold no cycles.

A full collection walks every tracked object that is not frozen. The period's figures at
100,000 VMs build about a million (the stored states, the per-VM rows) in a few seconds, and
each few hundred thousand of them start another full collection over all of them: 8 full
collections, 40% of the step (`make bench`). What it leaves with cycles is collected after.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_collection() -> Iterator[None]:
    """No cyclic collection inside the block (reference counting still frees everything
    else); the collector runs again as before once it ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
