"""Typed reading of TOML values with one-line errors naming the file and the key.

Shared by every section of the configuration file, so a bad value reads the same everywhere.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.support.errors import InputError


@dataclass(frozen=True)
class Range:
    """The numbers a setting accepts, bounds included; NaN and infinities never are."""

    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        # NaN fails every comparison and infinities lie outside finite bounds; comparing
        # (not math.isfinite) also copes with TOML integers too big for a float.
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"a number from {self.low:g} to {self.high:g}"


def expect(path: Path, key: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InputError(f"{path}: {key}: expected {names}, got {value!r}")
    return value


def bounded(
    path: Path, key: str, value: Any, kind: type | tuple[type, ...], accepted: Range
) -> Any:
    if value is not None and expect(path, key, value, kind) not in accepted:
        raise InputError(f"{path}: {key}: expected {accepted}, got {value!r}")
    return value


def one_of(path: Path, key: str, value: str, choices: Sequence[str], problem: str) -> str:
    """`value` when it is one of `choices`; else `problem`, with the closest choice as a hint
    (a typo such as "Standrd" reads `did you mean "... Standard"?`)."""
    if value not in choices:
        close = difflib.get_close_matches(value, choices, n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        raise InputError(f"{path}: {key}: {problem}{hint}")
    return value
