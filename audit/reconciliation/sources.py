"""Where a reconciliation's bill lines come from: the API or a `--bills` file.

Either way the lines are the same records (audit/invoice/parse.py reads both), and the source
is described for the manifest by name only (never a path or a credential).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from audit.collect.api import ClientFactory, check_endpoint
from audit.collect.bills import read_bills
from audit.collect.collector import CollectOptions
from audit.invoice import load_bill_lines
from audit.model.invoice import Bill, BillLine, BillWindow
from audit.support.errors import AuditError, ExitCode
from audit.support.fsutil import sha256_file
from audit.support.jsontypes import JSONObject

_FAILURES_NAMED = 3


class IncompleteBillsError(AuditError):
    """A bill or a line could not be read after retries: a comparison without it would be
    wrong, so nothing is written (exit 3)."""

    exit_code = ExitCode.INCOMPLETE


@dataclass(frozen=True)
class ObtainedBills:
    """The lines to compare, in bill order, with the bills they come from (none for a file)
    and what the manifest records about where they came from."""

    lines: tuple[BillLine, ...]
    bills: tuple[Bill, ...]
    origin: JSONObject
    calls: int = 0


class BillSource(Protocol):
    """The API or a file: the lines of the bills issued within a window."""

    def obtain(self, window: BillWindow) -> ObtainedBills: ...


@dataclass(frozen=True)
class BillsFromApi:
    """`GET /me/bill` and the bills' details, with the key the `ovh` way names."""

    factory: ClientFactory
    options: CollectOptions

    def obtain(self, window: BillWindow) -> ObtainedBills:
        check_endpoint(self.factory)
        read = read_bills(self.factory, window, self.options)
        if not read.complete:
            named = "; ".join(f"GET {f.path}: {f.error}" for f in read.failures[:_FAILURES_NAMED])
            more = len(read.failures) - _FAILURES_NAMED
            raise IncompleteBillsError(
                f"{len(read.failures)} bill(s) or line(s) could not be read ({named}"
                + (f"; and {more} more" if more > 0 else "")
                + "); nothing written"
            )
        return ObtainedBills(
            lines=read.lines,
            bills=read.bills,
            origin={"source": "api", "endpoint": self.factory.endpoint},
            calls=read.calls,
        )


@dataclass(frozen=True)
class BillsFromFile:
    """A `--bills` file, read whole (and refused whole) before anything else happens."""

    name: str
    sha256: str
    lines: tuple[BillLine, ...]

    @classmethod
    def load(cls, path: Path) -> BillsFromFile:
        lines = load_bill_lines(path)
        return cls(path.name, sha256_file(path), lines)

    def obtain(self, window: BillWindow) -> ObtainedBills:
        """Every line of the file: it holds no bill, so no date to keep it by."""
        origin: JSONObject = {"source": "--bills", "file": self.name, "sha256": self.sha256}
        return ObtainedBills(lines=self.lines, bills=(), origin=origin)
