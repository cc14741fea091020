"""Strict field checks for `from_json`: a damaged findings.json fails, it is never guessed at.

A ValueError here is turned into an InputError naming the file and field by RunReport.
"""

from __future__ import annotations

from typing import Any


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def optional_string(value: Any) -> str | None:
    return None if value is None else string(value)


def optional_int(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    return value
