"""Large snapshots for the benchmark, built straight from a generated fleet (no HTTP)."""

from __future__ import annotations

from audit.simulator.direct import snapshot_of

__all__ = ["snapshot_of"]
