"""API text made safe to show: invisible characters made visible, formulas kept as text.

VM names come from vCenter and are hostile. Every human-facing output (findings.csv,
report.xlsx, report.html) passes its text through here; findings.json keeps the exact value
(it is data, read by programs), and so does the remediation script.

- `visible_controls`: characters that are invisible or change how the text around them is
  displayed become backslash escapes (`\\x1b` below U+0100, `\\u202e` above), so
  "\\u202egnp.exe" cannot pass for "exe.png" and NUL or ESC never reach a spreadsheet or a
  terminal. Tab, LF and CR are kept: CSV quotes them, XML and HTML allow them.
- `neutralise` (from `audit.runtime.text`, shared with the remediation results CSV): a quote
  before text that Excel or LibreOffice would run as a formula, also when spaces or line
  breaks come before the `=`, `+`, `-` or `@` (importers may trim them).
"""

from __future__ import annotations

import re

from audit.runtime.text import FORMULA_TRIGGERS, is_formula_like, neutralise

__all__ = ["FORMULA_TRIGGERS", "is_formula_like", "neutralise", "safe_text", "visible_controls"]

# C0 controls but tab, LF and CR (illegal in XML, invisible in HTML); DEL and the C1 controls;
# the bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E/F, U+202A-E,
# U+2066-9) that reorder what a reader sees; the zero-width space, word joiner and invisible
# operators (U+200B, U+2060-4) and the byte order mark (U+FEFF), which make two names that
# look alike differ; lone surrogates (cannot be encoded); U+FFFE/F.
_INVISIBLE_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ud800-\udfff\ufeff\ufffe\uffff]"
)


def visible_controls(value: str) -> str:
    """Show invisible and direction-changing characters as escapes instead of dropping them.

    The value stays recognisable and its oddity visible, in every output alike.
    """
    return _INVISIBLE_RE.sub(_escape, value)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(value: str) -> str:
    """What findings.csv holds for a text value: visible, then neutralised."""
    return neutralise(visible_controls(value))
