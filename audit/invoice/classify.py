"""Which licence value a bill line is for, read from its description by `[invoice] patterns`.

When several values' patterns match, the one with the most words wins; a tie names both and
leaves the line unclassified, as does a line whose quantity cannot be read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from audit.config.invoice import LicencePattern
from audit.model.invoice import BillLine


@dataclass(frozen=True)
class Classified:
    """A line's licence value, or None and the reason it has none."""

    license: str | None
    reason: str | None = None


def licence_of(description: str, patterns: Sequence[LicencePattern]) -> Classified:
    """The licence value a description names, by the patterns alone."""
    matches = [p for p in patterns if p.regex.search(description)]
    if not matches:
        return Classified(None, "no [invoice] pattern matches its description")
    most = max(p.words for p in matches)
    best = sorted(p.license for p in matches if p.words == most)
    if len(best) > 1:
        named = " and ".join(f'"{value}"' for value in best)
        return Classified(None, f"the patterns of {named} match it equally ({most} words each)")
    return Classified(best[0])


def classify(line: BillLine, patterns: Sequence[LicencePattern]) -> Classified:
    """A line's licence value; its quantity must be a number for it to count."""
    found = licence_of(line.description, patterns)
    if found.license is None or line.quantity_problem is None:
        return found
    return Classified(None, f'{line.quantity_problem} (its description names "{found.license}")')
