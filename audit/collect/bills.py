"""Reads a period's bills and their lines (`/me/bill`, shared/ovh-schema/me.json).

The same walk as the collection: one `ovh` client per worker thread, one shared rate limiter,
bounded retries. What cannot be read after retries (a bill, a line list, a line, or a line
the reconciliation cannot read) is recorded, and the result is incomplete: the caller writes
nothing (exit 3). A key without the right to read bills stops at once with one line naming
the right it lacks (exit 2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from audit.collect.api import ClientFactory, import_ovh
from audit.collect.collector import CollectOptions, _Unreadable, _Walk
from audit.invoice.parse import BillDataError, bill, bill_line
from audit.invoice.rights import BILLING_RULES
from audit.model.invoice import Bill, BillLine, BillWindow
from audit.support.errors import AuditError, CredentialError

BILLS = "/me/bill"
T = TypeVar("T")


@dataclass(frozen=True)
class BillFailure:
    """A bill or line that could not be read: the call and why."""

    path: str
    error: str


@dataclass(frozen=True)
class BillsRead:
    """The bills of a window and their lines, in bill order (date, then id), each bill's
    lines in the order the API lists them."""

    window: BillWindow
    bills: tuple[Bill, ...]
    lines: tuple[BillLine, ...]
    failures: tuple[BillFailure, ...]
    calls: int
    retries: int

    @property
    def complete(self) -> bool:
        return not self.failures


def window_query(window: BillWindow) -> dict[str, str]:
    """`date.from` and `date.to` covering the window's days whole (UTC)."""
    return {
        "date.from": f"{window.first.isoformat()}T00:00:00+00:00",
        "date.to": f"{window.last.isoformat()}T23:59:59+00:00",
    }


def missing_right(path: str) -> CredentialError:
    """A call the key may not make, as the right it lacks and how to get it."""
    method, pattern = BILLING_RULES[0] if path == BILLS else BILLING_RULES[1]
    return CredentialError(
        f"{method} {path}: this consumer key may not read bills: it lacks the right "
        f"{method} {pattern} (ask for a key that has it: ovh-license-audit auth request "
        "--billing)"
    )


def _strings(value: Any, path: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Unreadable(f"unexpected response for {path}: expected a list of ids")
    return list(dict.fromkeys(value))


class _BillWalk(_Walk):
    """The bill list, then every bill and its lines, concurrently."""

    def __init__(self, factory: ClientFactory, options: CollectOptions) -> None:
        super().__init__(factory, options)
        self.bill_ids: list[str] = []
        self.bills: dict[str, Bill] = {}
        self.detail_ids: dict[str, list[str]] = {}
        self.lines: dict[tuple[str, str], BillLine] = {}
        self.bill_failures: list[BillFailure] = []

    def refused(self, exc: Exception, path: str) -> AuditError:
        if isinstance(exc, import_ovh().exceptions.NotGrantedCall):
            return missing_right(path)
        return super().refused(exc, path)

    def _failed(self, path: str, error: str) -> None:
        with self._lock:
            self.bill_failures.append(BillFailure(path, error))

    def list_bills(self, window: BillWindow) -> None:
        query = window_query(window)
        try:
            ids = _strings(self.call(BILLS, lambda client: client.get(BILLS, **query)), BILLS)
        except _Unreadable as exc:
            self._failed(BILLS, str(exc))
            return
        self.bill_ids = ids
        for bill_id in ids:
            self.submit(self.read_bill, bill_id)
            self.submit(self.list_details, bill_id)

    def _parsed(self, path: str, parse: Callable[[Any], T], model: str) -> T | None:
        """One object, parsed; None (recorded as unread) when it cannot be read or parsed."""
        try:
            return parse(self.get(path))
        except _Unreadable as exc:
            self._failed(path, str(exc))
        except BillDataError as exc:
            self._failed(path, f"unexpected {model}: {exc}")
        return None

    def read_bill(self, bill_id: str) -> None:
        record = self._parsed(f"{BILLS}/{bill_id}", bill, "billing.Bill")
        if record is not None:
            with self._lock:
                self.bills[bill_id] = record

    def list_details(self, bill_id: str) -> None:
        path = f"{BILLS}/{bill_id}/details"
        try:
            ids = _strings(self.get(path), path)
        except _Unreadable as exc:
            self._failed(path, str(exc))
            return
        with self._lock:
            self.detail_ids[bill_id] = ids
        for detail_id in ids:
            self.submit(self.read_detail, bill_id, detail_id)

    def read_detail(self, bill_id: str, detail_id: str) -> None:
        path = f"{BILLS}/{bill_id}/details/{detail_id}"
        line = self._parsed(path, lambda data: bill_line(data, bill_id), "billing.BillDetail")
        if line is not None:
            with self._lock:
                self.lines[(bill_id, detail_id)] = line

    def result(self, window: BillWindow) -> BillsRead:
        bills = sorted(self.bills.values(), key=lambda b: (b.date, b.bill_id))
        # A bill that could not be read keeps its lines after the others (listing order).
        order = [b.bill_id for b in bills] + [i for i in self.bill_ids if i not in self.bills]
        lines = tuple(
            self.lines[(bill_id, detail_id)]
            for bill_id in order
            for detail_id in self.detail_ids.get(bill_id, ())
            if (bill_id, detail_id) in self.lines
        )
        return BillsRead(
            window=window,
            bills=tuple(bills),
            lines=lines,
            failures=tuple(sorted(self.bill_failures, key=lambda f: f.path)),
            calls=self.calls,
            retries=self.retries,
        )


def read_bills(factory: ClientFactory, window: BillWindow, options: CollectOptions) -> BillsRead:
    """Every bill issued within `window` and all their lines. Raises CredentialError when
    the key may not read bills (or is refused outright)."""
    factory.new_client()  # missing credentials fail here, before any thread
    walk = _BillWalk(factory, options)
    walk.submit(walk.list_bills, window)
    walk.wait()
    return walk.result(window)
