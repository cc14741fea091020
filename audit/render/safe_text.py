"""Neutralising text that a spreadsheet would run as a formula (CSV/formula injection)."""

from __future__ import annotations

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Prefix a quote to text that Excel or LibreOffice would read as a formula.

    VM names come from vCenter and are hostile: `=HYPERLINK(...)` must stay text.
    """
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
