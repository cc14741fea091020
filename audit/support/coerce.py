"""Raw API values made plain: how a field of unknown type becomes a str or an int.

The typed inventory (audit/evaluate/inventory.py) reads every VM and vmLicensed entry through
these, once; nothing after it sees a raw VM dict.
"""

from __future__ import annotations

from typing import Any


def text(value: Any) -> str | None:
    """A raw string field: None stays None, anything else becomes its string."""
    if value is None or isinstance(value, str):
        return value
    return str(value)


# The API's ids and counts are `long`: a value outside it is not an id (and SQLite refuses it).
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def integer(value: Any) -> int | None:
    """A raw id or count: an int (not a bool) or a string of ASCII digits, within the API's
    `long`; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and _LONG_MIN <= value <= _LONG_MAX:
        return value
    return None
