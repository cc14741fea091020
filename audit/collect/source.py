"""Where a command's snapshot comes from: the API (a collection), or a stored snapshot file.

`run` and `observe` take the same `--from-snapshot FILE` or API flags; both keep the exact
bytes, so the run folder's (or the observation's) snapshot is the one that was read.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from audit.collect.api import ClientFactory, check_endpoint
from audit.collect.collector import CollectOptions, collect
from audit.collect.options import collect_options_from, factory_from
from audit.config.settings import Config
from audit.model.snapshot import Snapshot, encode_snapshot, read_snapshot_bytes
from audit.support.errors import IncompleteRunError


@dataclass(frozen=True)
class SnapshotSource:
    """Where the snapshot comes from: the API through `factory`, or a stored file."""

    factory: ClientFactory | None = None
    options: CollectOptions | None = None
    endpoint_label: str = ""
    from_file: Path | None = None

    def load(self) -> tuple[Snapshot, bytes]:
        """The snapshot and its exact bytes (what the run folder keeps)."""
        if self.from_file is not None:
            return read_snapshot_bytes(self.from_file)
        assert self.factory is not None and self.options is not None
        check_endpoint(self.factory)
        snapshot = collect(self.factory, self.options, self.endpoint_label)
        return snapshot, encode_snapshot(snapshot)

    @classmethod
    def from_args(cls, args: argparse.Namespace, config: Config) -> SnapshotSource:
        """`--from-snapshot FILE`, else the API that the flags and the config file name."""
        if args.from_snapshot is not None:
            return cls(from_file=args.from_snapshot)
        factory = factory_from(args, config)
        return cls(
            factory=factory,
            options=collect_options_from(args, config),
            endpoint_label=factory.endpoint,
        )


def refuse_nothing_read(snapshot: Snapshot, label: str) -> None:
    """An incomplete collection that did not even list the services has nothing to say."""
    coverage = snapshot.coverage
    if coverage.complete or coverage.services_listed > 0:
        return
    first = coverage.failures[0]
    raise IncompleteRunError(
        f"{label}: nothing was read from {snapshot.meta.endpoint or 'the API'} "
        f"(GET {first.path}: {first.error}); nothing written"
    )
