"""`[invoice]` in the configuration file: how far after a period to read bills, and how a
bill line's description names a licence value.

The wording of real licence lines is unverified (no public sample exists), so every licence
value OVHcloud bills has a pattern: the one configured, else its words in order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.config.values import Range, bounded, expect, one_of
from audit.model.licences import BILLABLE_LICENCES
from audit.support.errors import InputError

DEFAULT_DAYS_AFTER = 20
DAYS_AFTER = Range(0, 366)
_KEYS = {"days_after", "patterns"}


@dataclass(frozen=True)
class LicencePattern:
    """The regular expression that finds one licence value in a line's description.

    `words` is how many words the value has: when several values match one line, the one
    with the most words wins (`windows 2019 Standard Core` over `windows 2019 Standard`).
    """

    license: str
    regex: re.Pattern[str]
    configured: bool  # from [invoice] patterns, not the default

    @property
    def words(self) -> int:
        return len(self.license.split())


def default_regex(license: str) -> str:
    """The value's words, each a whole word, in order, with anything between them:
    `windows 2019 Standard` finds "Windows Server 2019 Standard Edition (SPLA)" but not
    "Windows 2022 Standard SQL2019 Web" (2019 is not a word of its own there)."""
    return ".*".join(rf"(?<!\w){re.escape(word)}(?!\w)" for word in license.split())


def _compile(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


def default_patterns() -> tuple[LicencePattern, ...]:
    return with_patterns({})


@dataclass(frozen=True)
class InvoiceSettings:
    """A validated `[invoice]` section (the defaults when the file has none)."""

    days_after: int = DEFAULT_DAYS_AFTER
    patterns: tuple[LicencePattern, ...] = field(default_factory=default_patterns)

    def configured(self) -> Mapping[str, str]:
        """The patterns the file sets, as written (for the reports)."""
        return {p.license: p.regex.pattern for p in self.patterns if p.configured}


def with_patterns(configured: Mapping[str, re.Pattern[str]]) -> tuple[LicencePattern, ...]:
    """Every billable value's pattern: the configured one, else the default."""
    return tuple(
        LicencePattern(value, configured[value], configured=True)
        if value in configured
        else LicencePattern(value, _compile(default_regex(value)), configured=False)
        for value in BILLABLE_LICENCES
    )


def _pattern(path: Path, key: str, value: Any) -> re.Pattern[str]:
    text: str = expect(path, key, value, str)
    if not text.strip():
        raise InputError(f"{path}: {key}: an empty pattern would match every line")
    try:
        return _compile(text)
    except re.error as exc:
        where = "" if exc.pos is None else f" at position {exc.pos}"
        raise InputError(f"{path}: {key}: invalid regular expression: {exc.msg}{where}") from None


def invoice_settings(path: Path, value: Any) -> InvoiceSettings:
    """Parse `[invoice]`; every problem is one line naming the file and the key."""
    if value is None:
        return InvoiceSettings()
    table = expect(path, "[invoice]", value, dict)
    unknown = set(table) - _KEYS
    if unknown:
        raise InputError(f"{path}: [invoice]: unknown key {sorted(unknown)[0]!r}")
    days = bounded(path, "invoice.days_after", table.get("days_after"), int, DAYS_AFTER)
    patterns = expect(path, "invoice.patterns", table.get("patterns", {}), dict)
    configured: dict[str, re.Pattern[str]] = {}
    for licence, regex in patterns.items():
        key = f"invoice.patterns.{json.dumps(licence)}"
        one_of(
            path,
            key,
            licence,
            BILLABLE_LICENCES,
            "not a licence value OVHcloud bills, exactly as the API spells it",
        )
        configured[licence] = _pattern(path, key, regex)
    return InvoiceSettings(
        days_after=DEFAULT_DAYS_AFTER if days is None else days,
        patterns=with_patterns(configured),
    )
