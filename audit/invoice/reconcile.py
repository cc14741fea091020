"""The comparison: per service and licence value, the quantity invoiced against `billed_vms`.

Pure: the lines come from the API (audit.collect) or a `--bills` file, `billed_vms` from the
run's licence position. Lines of other domains are not the run's; lines of the run's services
are compared when a licence value is read from them, else listed whole (BILL-UNCLASSIFIED).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal

from audit.config.invoice import InvoiceSettings
from audit.invoice.classify import classify
from audit.model.invoice import (
    Amount,
    Bill,
    BillLine,
    BillWindow,
    CurrencyTotal,
    InvoiceRow,
    Reconciliation,
    RowStatus,
    SetAsideLine,
)
from audit.model.period import Period

#: A service and a licence value: the key of a row and of `billed_vms`.
RowKey = tuple[str, str]


def bill_window(period: Period, days_after: int) -> BillWindow:
    """The bills that can hold a period's licences: issued from its first day to `days_after`
    days after its last (OVHcloud bills a month's licences at the start of the next)."""
    return BillWindow(first=period.start, last=period.end + timedelta(days=days_after))


def billed_by_service(entries: Iterable[tuple[str, str, int]]) -> dict[RowKey, int]:
    """`billed_vms` per service and licence value from rows that may be finer (findings.json
    `licences` has one per service, datacenter and value: a VM is in one datacenter, so the
    datacenters' counts add up)."""
    totals: dict[RowKey, int] = defaultdict(int)
    for service_name, license, billed_vms in entries:
        totals[(service_name, license)] += billed_vms
    return dict(totals)


def outside(line: BillLine, period: Period) -> str | None:
    """Why a line is not the period's: its billing period (both ends known) misses it."""
    start, end = line.period_start, line.period_end
    if start is None or end is None or (start <= period.end and end >= period.start):
        return None
    return f"billed for {start.isoformat()} to {end.isoformat()}, outside {period.label}"


def status_of(difference: Decimal) -> RowStatus:
    if difference > 0:
        return RowStatus.BILL_OVER
    if difference < 0:
        return RowStatus.BILL_UNDER
    return RowStatus.OK


def _totals(lines: Iterable[BillLine]) -> tuple[CurrencyTotal, ...]:
    """One sum per currency, in currency order: amounts of two currencies never add up."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        sums[line.total_price.currency] += line.total_price.value
    return tuple(CurrencyTotal(currency, sums[currency]) for currency in sorted(sums))


def _unit_price(lines: Sequence[BillLine]) -> Amount | None:
    """The lines' unit price when they all have the same one (currency and value)."""
    prices = {(line.unit_price.currency, line.unit_price.value) for line in lines}
    return lines[0].unit_price if len(prices) == 1 else None


def _row(key: RowKey, lines: Sequence[BillLine], billed_vms: int) -> InvoiceRow:
    invoiced = sum((line.quantity or Decimal(0) for line in lines), Decimal(0))
    return InvoiceRow(
        service_name=key[0],
        license=key[1],
        invoiced_quantity=invoiced,
        billed_vms=billed_vms,
        status=status_of(invoiced - billed_vms),
        totals=_totals(lines),
        unit_price=_unit_price(lines),
        lines=tuple(line.bill_detail_id for line in lines),
    )


def reconcile(
    lines: Sequence[BillLine],
    *,
    period: Period,
    services: Collection[str],
    billed_vms: Mapping[RowKey, int],
    settings: InvoiceSettings,
    bills: Sequence[Bill] = (),
) -> Reconciliation:
    """Compare what the bills invoiced for the run's `services` with `billed_vms`.

    `lines` in bill order (their order is kept in each row's `lines`); `billed_vms` maps
    (service name, licence value) to the VMs OVHcloud's billing rule bills for the period.
    A row exists for every key billed (billed_vms > 0) or invoiced.
    """
    invoiced: dict[RowKey, list[BillLine]] = defaultdict(list)
    unclassified: list[SetAsideLine] = []
    set_aside: list[SetAsideLine] = []
    for line in lines:
        if line.domain not in services:
            continue
        reason = outside(line, period)
        if reason is not None:
            set_aside.append(SetAsideLine(line, reason))
            continue
        found = classify(line, settings.patterns)
        if found.license is None:
            unclassified.append(SetAsideLine(line, found.reason or "unclassified"))
        else:
            invoiced[(line.domain, found.license)].append(line)
    keys = {key for key, count in billed_vms.items() if count > 0} | set(invoiced)
    rows = tuple(_row(key, invoiced.get(key, ()), billed_vms.get(key, 0)) for key in sorted(keys))
    return Reconciliation(
        period=period,
        window=bill_window(period, settings.days_after),
        bills=tuple(bills),
        rows=rows,
        unclassified=tuple(unclassified),
        outside_period=tuple(set_aside),
        patterns=tuple(sorted(settings.configured().items())),
    )
