"""The simulated account's bills (`/me/bill`, shared/ovh-schema/me.json): one per month.

A month's bill is dated the first day of the next month (OVHcloud bills a Windows licence at
the start of the following month for the VMs powered on during the month) and has one
licence line per service and licence value: the VMs of the fleet that are powered on (any
state but poweredOff and deleted) and carry a billable licence when the bill is issued, or,
when the month's usage was recorded (`Simulator.record_usage`, once per simulated day), every
VM recorded powered on with that value on one of its days, as OVHcloud's rule bills them.
Options make it invoice one licence too many or too few, or add lines that are not the
audit's (other products of the service, other domains). The wording of the lines is the
simulator's own: real invoices' wording is unknown.
"""

from __future__ import annotations

import calendar
import hashlib
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from audit.model.licences import BILLABLE_LICENCES
from audit.simulator.fleet import Fleet
from audit.support.jsontypes import JSONObject

CURRENCY = "EUR"
CATEGORY = "autorenew"
TAX_RATE = Decimal("0.20")
_UCENTS = Decimal(100_000_000)  # `priceInUcents`: micro-cents
_BILL_BASE = 48_000_000  # bill ids are "FR" and 8 digits, one number per month
_NOT_BILLED_STATES = ("poweredOff", "deleted")

# Simulated monthly prices per VM: the edition's, plus the SQL Server bundle's.
_EDITION_PRICES = (
    ("Datacenter", Decimal("129.00")),
    ("Enterprise", Decimal("99.00")),
    ("Web", Decimal("12.00")),
    ("Standard", Decimal("24.50")),
)
_SQL_PRICES = (
    ("Enterprise", Decimal("820.00")),
    ("Standard", Decimal("210.00")),
    ("Web", Decimal("15.30")),
)

# When an unrelated line's period lies: the usage month, the next (billed in advance), none.
_Period = Literal["usage", "ahead", "none"]

#: Lines of other products and other domains, added by `unrelated_lines`: (domain, None for
#: each of the fleet's services; description; quantity; unit price; period).
_UNRELATED: tuple[tuple[str | None, str, str, Decimal, _Period], ...] = (
    (None, "Hosted Private Cloud host rental - 2 x Premier 384", "2", Decimal("1290.00"), "ahead"),
    (
        "vps-0f1e2d3c.vps.ovh.net",
        "VPS Comfort 4-8-160 - monthly renewal",
        "1",
        Decimal("19.99"),
        "ahead",
    ),
    (
        "ns3001234.ip-203-0-113.eu",
        "Microsoft Windows Server 2022 Standard licence (SPLA) - dedicated server",
        "1",
        Decimal("24.50"),
        "usage",
    ),
    ("example.com", "Domain name renewal .com - 1 year", "1", Decimal("11.99"), "none"),
)


@dataclass(frozen=True)
class BillingOptions:
    """What the simulated bills get wrong or hold beside the licences.

    `extra_licence` invoices one licence too many (on the first licence line, or a line of
    its own when there is none); `missing_licence` one too few (on the last licence line,
    dropped when it reaches 0); with a single licence line the two cancel out.
    `unrelated_lines` adds the lines of `_UNRELATED`; `months` is how many months before the
    current one have a bill.
    """

    extra_licence: bool = False
    missing_licence: bool = False
    unrelated_lines: bool = False
    months: int = 12

    def __post_init__(self) -> None:
        if not 1 <= self.months <= 240:
            raise ValueError("months must be between 1 and 240")


def month_serial(year: int, month: int) -> int:
    return year * 12 + month - 1


def bill_id(year: int, month: int) -> str:
    """The id of the bill of a usage month."""
    return f"FR{_BILL_BASE + month_serial(year, month) - month_serial(2000, 1):08d}"


def bill_month(identifier: str) -> tuple[int, int] | None:
    """The usage month of a bill id, None for an id no bill has."""
    digits = identifier[2:]
    if not identifier.startswith("FR") or len(digits) != 8 or not digits.isdigit():
        return None
    serial = int(digits) - _BILL_BASE + month_serial(2000, 1)
    return (serial // 12, serial % 12 + 1) if serial >= month_serial(2000, 1) else None


def billed_months(today: date, months: int) -> list[tuple[int, int]]:
    """The usage months that have a bill by `today`: the `months` before today's month."""
    current = month_serial(today.year, today.month)
    return [(s // 12, s % 12 + 1) for s in range(current - months, current)]


def order_id(year: int, month: int) -> int:
    """The order a month's bill settles (the services' renewal)."""
    return 90_000_000 + month_serial(year, month)


def bill_date(year: int, month: int) -> str:
    """When the bill of a usage month is issued: the first day of the next month."""
    year, month = _next(year, month)
    return f"{year:04d}-{month:02d}-01T00:00:00+00:00"


def _next(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _month_days(year: int, month: int) -> tuple[str, str]:
    last = calendar.monthrange(year, month)[1]
    return date(year, month, 1).isoformat(), date(year, month, last).isoformat()


def unit_price(licence: str) -> Decimal:
    """The simulated monthly price of one VM's licence value: its edition's, plus its SQL
    Server bundle's ("windows 2022 Standard SQL2019 Web": Standard, then SQL Web)."""
    words = [word for word in licence.split()[1:] if not word[0].isdigit() and word != "R2"]
    edition = dict(_EDITION_PRICES).get(words[0] if words else "", Decimal("24.50"))
    bundled = any(word.startswith("SQL") for word in words)
    return edition + (dict(_SQL_PRICES).get(words[-1], Decimal(0)) if bundled else Decimal(0))


def _price(value: Decimal, long: bool = False) -> JSONObject:
    """An `order.Price` (or `order.LongPrice`, which has no `priceInUcents`)."""
    price: JSONObject = {"currencyCode": CURRENCY, "text": f"{value:.2f} €", "value": float(value)}
    if not long:
        price["priceInUcents"] = int(value * _UCENTS)
    return price


def _detail(
    detail_id: str,
    description: str,
    domain: str,
    quantity: int | str,
    price: Decimal,
    period: tuple[str, str] | None,
) -> JSONObject:
    """A `billing.BillDetail`: ids and `quantity` strings, prices objects, as the schema."""
    return {
        "billDetailId": detail_id,
        "description": description,
        "domain": domain,
        "periodStart": None if period is None else period[0],
        "periodEnd": None if period is None else period[1],
        "quantity": str(quantity),
        "unitPrice": _price(price, long=True),
        "totalPrice": _price(price * Decimal(str(quantity))),
    }


#: A VM billed for a licence value: service name, licence value, VM id.
Usage = tuple[str, str, int]


def billed_now(fleet: Fleet) -> set[Usage]:
    """The VMs powered on with a billable licence now, each with its service and value."""
    return {
        (service_name, vm.license, vm.vm_id)
        for service_name, _, vm in fleet.vms()
        if vm.license in BILLABLE_LICENCES and vm.fields.get("powerState") not in _NOT_BILLED_STATES
    }


def licence_counts(fleet: Fleet, usage: Collection[Usage] = ()) -> Counter[tuple[str, str]]:
    """The VMs billed per service and licence value: those of `usage` (the month's recorded
    days), or without it the fleet's now."""
    return Counter((service, licence) for service, licence, _ in (usage or billed_now(fleet)))


def licence_description(licence: str) -> str:
    """The simulator's wording of a licence line ("windows 2019 Standard Core" becomes
    "Microsoft Windows Server 2019 Standard Core licence (SPLA)")."""
    return f"Microsoft Windows Server {licence.split(' ', 1)[1]} licence (SPLA)"


def _licence_quantities(
    fleet: Fleet, options: BillingOptions, usage: Collection[Usage]
) -> list[tuple[str, str, int]]:
    counts = licence_counts(fleet, usage)
    lines = [(service, licence, counts[(service, licence)]) for service, licence in sorted(counts)]
    if options.extra_licence:
        if lines:
            service, licence, count = lines[0]
            lines[0] = (service, licence, count + 1)
        elif fleet.services:
            lines.append((sorted(fleet.services)[0], "windows 2022 Standard", 1))
    if options.missing_licence and lines:
        service, licence, count = lines[-1]
        lines[-1] = (service, licence, count - 1)
    return [line for line in lines if line[2] > 0]


@dataclass(frozen=True)
class SimulatedBill:
    """One issued bill: fixed once issued, as a real bill is."""

    bill_id: str
    year: int
    month: int  # the usage month; the bill is dated the 1st of the next
    details: tuple[JSONObject, ...]

    @property
    def date(self) -> str:
        return bill_date(self.year, self.month)

    def detail(self, detail_id: str) -> JSONObject | None:
        return next((d for d in self.details if d["billDetailId"] == detail_id), None)

    def api_object(self) -> JSONObject:
        """The `billing.Bill`."""
        without_tax = sum(
            (Decimal(str(d["totalPrice"]["value"])) for d in self.details), Decimal(0)
        )
        tax = (without_tax * TAX_RATE).quantize(Decimal("0.01"))
        password = hashlib.sha256(self.bill_id.encode()).hexdigest()[:10]
        return {
            "billId": self.bill_id,
            "category": CATEGORY,
            "date": self.date,
            "eInvoicingId": None,
            "eInvoicingStatus": None,
            "orderId": order_id(self.year, self.month),
            "password": password,
            "pdfUrl": f"https://www.ovh.com/cgi-bin/order/facture.pdf?reference={self.bill_id}",
            "priceWithTax": _price(without_tax + tax),
            "priceWithoutTax": _price(without_tax),
            "tax": _price(tax),
            "url": f"https://www.ovh.com/cgi-bin/order/facture.cgi?reference={self.bill_id}",
        }


def issue_bill(
    fleet: Fleet, year: int, month: int, options: BillingOptions, recorded: Collection[Usage] = ()
) -> SimulatedBill:
    """The bill of a usage month: from the month's `recorded` usage, else the fleet now."""
    identifier = bill_id(year, month)
    usage = _month_days(year, month)
    ahead = _month_days(*_next(year, month))
    details: list[JSONObject] = []

    def add(
        domain: str, description: str, quantity: int | str, price: Decimal, when: _Period
    ) -> None:
        detail_id = f"{identifier[2:]}{len(details) + 1:04d}"
        period = {"usage": usage, "ahead": ahead, "none": None}[when]
        details.append(_detail(detail_id, description, domain, quantity, price, period))

    for service, licence, count in _licence_quantities(fleet, options, recorded):
        add(service, licence_description(licence), count, unit_price(licence), "usage")
    if options.unrelated_lines:
        own = [line for line in _UNRELATED if line[0] is None]
        other = [line for line in _UNRELATED if line[0] is not None]
        for service in sorted(fleet.services):
            for _, description, quantity, price, when in own:
                add(service, description, quantity, price, when)
        for domain, description, quantity, price, when in other:
            add(str(domain), description, quantity, price, when)
    return SimulatedBill(identifier, year, month, tuple(details))
