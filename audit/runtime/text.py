"""Text from the API made safe to show: formulas kept as text, controls shown as codes.

VM names come from vCenter and are hostile. Spreadsheets (findings.csv, report.xlsx, the
remediation results CSV) and terminals take their text through here.
"""

from __future__ import annotations

# What the API's `license` holds for a Windows guest it bills no licence for.
UNLICENSED = "unlicensed windows guestos"

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_STARTS = ("=", "+", "-", "@")
_LEADING_SPACE = " \t\r\n"


def is_formula_like(text: str) -> bool:
    """True when a spreadsheet could read the text as a formula rather than as text, also
    when spaces or line breaks come before the `=`, `+`, `-` or `@` (importers may trim them)."""
    return text.startswith(FORMULA_TRIGGERS) or text.lstrip(_LEADING_SPACE).startswith(
        _FORMULA_STARTS
    )


def neutralise(text: str) -> str:
    """Prefix a quote to text that Excel or LibreOffice would read as a formula.

    `=HYPERLINK(...)`, or ` =HYPERLINK(...)`, must stay text.
    """
    return "'" + text if is_formula_like(text) else text


def neutralise_reversibly(text: str) -> str:
    """`neutralise`, and a quote before text that starts with one, so `unneutralise` gives the
    text back exactly (a file the tool reads again, like the remediation results)."""
    return "'" + text if text.startswith("'") else neutralise(text)


def unneutralise(text: str) -> str:
    """The text `neutralise_reversibly` was given."""
    return text[1:] if text.startswith("'") else text


def printable(text: str) -> str:
    """Text safe for a terminal: control characters (newlines, escapes) shown as codes."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
