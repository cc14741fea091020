"""The invoice reconciliation's records: bills and their lines as read, and what they show.

Amounts keep their currency and are exact decimals; a line's quantity is kept as the bill
wrote it beside the number read from it, so a line whose quantity cannot be read is reported
whole, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from audit.model.period import Period


class RowStatus(StrEnum):
    """How a service's invoiced quantity of a licence value compares with its billed VMs."""

    OK = "ok"
    BILL_OVER = "BILL-OVER"  # invoiced more licences than VMs billed
    BILL_UNDER = "BILL-UNDER"  # fewer: the shortfall may be invoiced later

    @property
    def severity(self) -> str | None:
        """The finding's severity (DESIGN.md, "Invoice reconciliation"); None for ok."""
        return {"BILL-OVER": "medium", "BILL-UNDER": "low"}.get(self.value)


#: The status of a line of a run's service that no licence value could be read from.
BILL_UNCLASSIFIED = "BILL-UNCLASSIFIED"
BILL_UNCLASSIFIED_SEVERITY = "info"


@dataclass(frozen=True)
class Amount:
    """A price as a bill prints it: its currency, its exact value and its text."""

    currency: str
    value: Decimal
    text: str


@dataclass(frozen=True)
class Bill:
    """A bill read (`billing.Bill`): only its id and date are kept (never its password)."""

    bill_id: str
    date: str  # the API's datetime, as given


@dataclass(frozen=True)
class BillLine:
    """One line of a bill (`billing.BillDetail`).

    `quantity` is the number read from `quantity_text` (the API's string), or None with
    `quantity_problem` saying why. `bill_id` is None for a line read from a `--bills` file.
    """

    bill_detail_id: str
    bill_id: str | None
    description: str
    domain: str
    period_start: date | None
    period_end: date | None
    quantity_text: str | None
    quantity: Decimal | None
    quantity_problem: str | None
    unit_price: Amount
    total_price: Amount


@dataclass(frozen=True)
class BillWindow:
    """The days whose bills a period's reconciliation reads, both included."""

    first: date
    last: date


@dataclass(frozen=True)
class CurrencyTotal:
    """The sum of some lines' totals in one currency (currencies are never added up)."""

    currency: str
    total: Decimal


@dataclass(frozen=True)
class InvoiceRow:
    """One service and licence value: what was invoiced against the VMs billed.

    `totals` has one entry per currency of its lines (usually one; none when nothing was
    invoiced); `unit_price` is set when every line has the same one.
    """

    service_name: str
    license: str
    invoiced_quantity: Decimal
    billed_vms: int
    status: RowStatus
    totals: tuple[CurrencyTotal, ...]
    unit_price: Amount | None
    lines: tuple[str, ...]  # billDetailIds, in bill order

    @property
    def difference(self) -> Decimal:
        """Invoiced minus billed: positive when OVHcloud invoiced more than ran."""
        return self.invoiced_quantity - self.billed_vms

    @property
    def currency(self) -> str | None:
        return self.totals[0].currency if len(self.totals) == 1 else None

    @property
    def total(self) -> Decimal | None:
        return self.totals[0].total if len(self.totals) == 1 else None


@dataclass(frozen=True)
class SetAsideLine:
    """A line of a run's service that is not compared, with the reason (shown whole)."""

    line: BillLine
    reason: str


@dataclass(frozen=True)
class Reconciliation:
    """A period's invoice reconciliation: invoice.json's content, before serialisation.

    `unclassified` are the lines of the run's services no licence value was read from
    (BILL-UNCLASSIFIED); `outside_period` those whose billing period lies wholly outside the
    run's period (last month's licences on this month's first bill, next month's rental).
    `patterns` are the `[invoice] patterns` in force (licence value, regex), the defaults aside.
    """

    period: Period
    window: BillWindow
    bills: tuple[Bill, ...]
    rows: tuple[InvoiceRow, ...]
    unclassified: tuple[SetAsideLine, ...]
    outside_period: tuple[SetAsideLine, ...]
    patterns: tuple[tuple[str, str], ...] = ()

    @property
    def differs(self) -> bool:
        """Whether any row is BILL-OVER or BILL-UNDER (the command's exit code 1)."""
        return any(row.status is not RowStatus.OK for row in self.rows)
