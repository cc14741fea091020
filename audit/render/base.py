"""The one interface every output format implements, and the run folder it reads.

Renderers read only the run folder (snapshot + findings document + history view), so any
report can be rebuilt offline from a stored run, identically. No format knows another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from audit.snapshot import Snapshot

JSONObject = dict[str, Any]


@dataclass(frozen=True)
class RunData:
    """What renderers may read.

    `findings` is the `findings.json` document (see audit/findings.py); `history` holds what
    the history stage adds for reports (trend, carried-forward reviews); empty without one.
    """

    snapshot: Snapshot
    snapshot_sha256: str
    findings: JSONObject
    history: JSONObject = field(default_factory=dict)


class Renderer(Protocol):
    """One output format: writes one file of the run folder."""

    filename: str

    def render(self, run: RunData, path: Path) -> None:
        """Write the format to `path` (a staging folder's file; the caller renames)."""
        ...
