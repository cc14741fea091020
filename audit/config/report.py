"""`[report]` in the configuration file: whose estate the reports cover.

`organisation` is a label (a company, an entity, an account's owner) the run records in
findings.json, so the HTML header, the workbook's Summary and the mail's subject name it and a
rebuild months later says the same.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.config.values import expect
from audit.support.errors import InputError

ORGANISATION_MAX = 80
_KEYS = {"organisation"}


@dataclass(frozen=True)
class ReportSettings:
    organisation: str | None = None  # None: the reports name no organisation


def _organisation(path: Path, value: Any) -> str:
    text: str = expect(path, "report.organisation", value, str)
    label = text.strip()
    if not label:
        raise InputError(f"{path}: report.organisation: empty; remove the key or name one")
    if len(label) > ORGANISATION_MAX:
        raise InputError(
            f"{path}: report.organisation: {len(label)} characters, at most {ORGANISATION_MAX}"
        )
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in label):
        raise InputError(
            f"{path}: report.organisation: control or invisible characters are not allowed "
            "(one line of printable text)"
        )
    return label


def report_settings(path: Path, value: Any) -> ReportSettings:
    """The [report] table (absent: no organisation); every problem names the file and key."""
    if value is None:
        return ReportSettings()
    table = expect(path, "[report]", value, dict)
    unknown = set(table) - _KEYS
    if unknown:
        raise InputError(f"{path}: [report]: unknown key {sorted(unknown)[0]!r}")
    organisation = table.get("organisation")
    return ReportSettings(None if organisation is None else _organisation(path, organisation))
