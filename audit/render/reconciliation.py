"""The invoice reconciliation as the reports show it (Reconciliation section and sheet).

Plain data from findings.json's `reconciliation` (audit/model/invoice.py): each service and
licence value with what was invoiced against the VMs billed, and every line of a run's service
no licence value was read from, whole, with the reason. Amounts keep their currency: two
currencies are shown side by side, never added up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from audit.model.invoice import (
    BILL_UNCLASSIFIED,
    BILL_UNCLASSIFIED_SEVERITY,
    Amount,
    Bill,
    CurrencyTotal,
    InvoiceRow,
    Reconciliation,
    RowStatus,
    SetAsideLine,
    decimal_text,
    money_text,
)
from audit.render.base import ReportInput

COMPARISON = (
    "Per service and licence value, the quantity the bills invoiced (the lines whose domain is "
    "the service, their quantity summed) against the VMs OVHcloud's billing rule bills for the "
    "period (billed VMs, as in the licence position). BILL-OVER (medium): invoiced more than "
    "the VMs billed. BILL-UNDER (low): fewer; the shortfall may be invoiced later."
)
WORDING = (
    "The wording of real invoice lines is unverified: no public sample of a Windows SPLA "
    "licence line exists, so a line's licence value is read from its description by the "
    '[invoice] patterns of the configuration file (README, "Invoice reconciliation"). Each '
    "unclassified line below is listed whole: write a pattern for its licence value in "
    "[invoice.patterns] and run `invoice` again."
)


@dataclass(frozen=True)
class RowLine:
    """One service and licence value, with its figures as text and as numbers."""

    row: InvoiceRow
    invoiced: str
    unit_price: str | None
    total: str | None
    difference: str  # signed: "+1", "-0.5", "0"
    severity: str | None


@dataclass(frozen=True)
class LineShown:
    """A bill line set aside (unclassified or outside the period), whole."""

    entry: SetAsideLine
    status: str | None
    severity: str | None
    period: str | None
    unit_price: str
    total: str


@dataclass(frozen=True)
class ReconciliationDisplay:
    """What both reports say about the reconciliation; `present` False before `invoice`."""

    present: bool
    period: str = ""
    window: str = ""
    bills: tuple[Bill, ...] = ()
    counts: str = ""
    rows: tuple[RowLine, ...] = ()
    unclassified: tuple[LineShown, ...] = ()
    outside_period: tuple[LineShown, ...] = ()
    patterns: tuple[tuple[str, str], ...] = ()
    comparison: str = COMPARISON
    wording: str = WORDING


_CENTS = Decimal("0.01")
#: Rows that differ first (the worse first), then the rows that are ok.
_ORDER = {RowStatus.BILL_OVER: 0, RowStatus.BILL_UNDER: 1, RowStatus.OK: 2}


def money(value: Decimal, currency: str) -> str:
    """An amount with at least its cents ("129.00 EUR"; "0.125 EUR" keeps its third place)."""
    exponent = value.as_tuple().exponent
    shown = value.quantize(_CENTS) if isinstance(exponent, int) and exponent > -2 else value
    return f"{money_text(shown)} {currency}"


def amount_text(amount: Amount) -> str:
    return money(amount.value, amount.currency)


def totals_text(totals: Sequence[CurrencyTotal]) -> str | None:
    """Each currency's total side by side ("24.50 EUR + 26.00 USD"), never added up; None
    when nothing was invoiced."""
    if not totals:
        return None
    return " + ".join(money(t.total, t.currency) for t in totals)


def signed(value: Decimal) -> str:
    return ("+" if value > 0 else "") + decimal_text(value)


def _row(row: InvoiceRow) -> RowLine:
    return RowLine(
        row=row,
        invoiced=decimal_text(row.invoiced_quantity),
        unit_price=None if row.unit_price is None else amount_text(row.unit_price),
        total=totals_text(row.totals),
        difference=signed(row.difference),
        severity=row.status.severity,
    )


def _line(entry: SetAsideLine, status: str | None) -> LineShown:
    line = entry.line
    start, end = line.period_start, line.period_end
    return LineShown(
        entry=entry,
        status=status,
        severity=None if status is None else BILL_UNCLASSIFIED_SEVERITY,
        period=None if start is None or end is None else f"{start} to {end}",
        unit_price=amount_text(line.unit_price),
        total=amount_text(line.total_price),
    )


def count_line(result: Reconciliation) -> str:
    """The rows per status and the unclassified lines, in one line (reports and `invoice`)."""
    counts = {status: 0 for status in RowStatus}
    for row in result.rows:
        counts[row.status] += 1
    rows = ", ".join(f"{counts[status]:,} {status.value}" for status in RowStatus)
    return f"{rows}; {len(result.unclassified):,} line(s) {BILL_UNCLASSIFIED}"


def reconciliation_display(run: ReportInput) -> ReconciliationDisplay:
    result = run.report.reconciliation
    if result is None:
        return ReconciliationDisplay(present=False)
    return ReconciliationDisplay(
        present=True,
        period=result.period.label,
        window=f"Bills issued from {result.window.first} to {result.window.last}",
        bills=result.bills,
        counts=count_line(result),
        rows=tuple(
            _row(row)
            for row in sorted(
                result.rows, key=lambda r: (_ORDER[r.status], r.service_name, r.license)
            )
        ),
        unclassified=tuple(_line(entry, BILL_UNCLASSIFIED) for entry in result.unclassified),
        outside_period=tuple(_line(entry, None) for entry in result.outside_period),
        patterns=result.patterns,
    )
