"""The reports' severity colours: the workbook's cells and the mail's inline styles (the HTML
has the same ones in templates/report.css)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Colour:
    """A severity's strong colour (text, bars) and its tint (cell backgrounds)."""

    strong: str
    tint: str


SEVERITY_COLOURS: Mapping[str, Colour] = {
    "high": Colour("#B71C1C", "#FDE0DC"),
    "medium": Colour("#C25E00", "#FFE9CC"),
    "low": Colour("#8D6E00", "#FFF6C7"),
    "info": Colour("#1E5AA8", "#E1ECFA"),
}
