"""The invoice reconciliation's records: bills and their lines as read, and what they show.

Amounts keep their currency and are exact decimals; a line's quantity is kept as the bill
wrote it beside the number read from it, so a line whose quantity cannot be read is reported
whole, never dropped.

A reconciliation is written as invoice.json and as findings.json's `reconciliation` (the same
document, docs/DESIGN.md "Invoice reconciliation"); `to_json` and `from_json` are its only writer
and reader. Quantities and amounts are exact decimals written as strings ("3", "-1", "24.50"),
as the API writes a line's quantity; `billed_vms` is a count. Nothing in it depends on when it
was written, so the same bills and run give the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from audit.model.fields import optional_string, string
from audit.model.period import Period
from audit.support.jsontypes import JSONObject

_T = TypeVar("_T")

# A decimal as a bill may write it: digits, an optional sign and fraction, nothing else
# (no exponent, no NaN, no thousands separator: "1,000" could be one or a thousand).
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_SHOWN = 60  # characters of a bad value quoted in a message


def shown(value: object) -> str:
    """A value quoted on one line, cut short: it comes from a file or the API."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def parse_quantity(value: object) -> tuple[Decimal | None, str | None]:
    """A line's `quantity` (a string in the schema) as a number, else None and the reason."""
    if value is None:
        return None, "the line has no quantity"
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, str):
        return None, f"quantity {shown(value)} is not a string"
    if not _DECIMAL.fullmatch(value.strip()):
        return None, f"quantity {shown(value)} is not a decimal number"
    return Decimal(value.strip()), None


def decimal_text(value: Decimal) -> str:
    """A decimal without exponent; a whole number without a fraction ("3", not "3.00")."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def money_text(value: Decimal) -> str:
    """An amount as computed, its decimals kept ("73.50" stays so), never an exponent."""
    return format(value, "f")


def _decimal(value: Any) -> Decimal:
    """A decimal written by `decimal_text` or `money_text`: a string, finite."""
    text = string(value)
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"expected a decimal number as a string, got {value!r}")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise ValueError(f"expected a decimal number, got {value!r}") from None


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(string(value))


def _list(value: Any, parse: Callable[[Any], _T]) -> tuple[_T, ...]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {shown(value)}")
    return tuple(parse(item) for item in value)


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {shown(value)}")
    return value


class RowStatus(StrEnum):
    """How a service's invoiced quantity of a licence value compares with its billed VMs."""

    OK = "ok"
    BILL_OVER = "BILL-OVER"  # invoiced more licences than VMs billed
    BILL_UNDER = "BILL-UNDER"  # fewer: the shortfall may be invoiced later

    @property
    def severity(self) -> str | None:
        """The finding's severity (docs/DESIGN.md, "Invoice reconciliation"); None for ok."""
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

    def to_json(self) -> JSONObject:
        return {"currency": self.currency, "value": money_text(self.value), "text": self.text}

    @classmethod
    def from_json(cls, data: Any) -> Amount:
        obj = _object(data)
        return cls(string(obj["currency"]), _decimal(obj["value"]), string(obj["text"]))

    @classmethod
    def optional(cls, data: Any) -> Amount | None:
        return None if data is None else cls.from_json(data)


@dataclass(frozen=True)
class Bill:
    """A bill read (`billing.Bill`): only its id and date are kept (never its password)."""

    bill_id: str
    date: str  # the API's datetime, as given

    def to_json(self) -> JSONObject:
        return {"bill_id": self.bill_id, "date": self.date}

    @classmethod
    def from_json(cls, data: Any) -> Bill:
        obj = _object(data)
        return cls(string(obj["bill_id"]), string(obj["date"]))


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

    def to_json(self) -> JSONObject:
        """The line whole, as the bill gave it (its quantity as written)."""
        return {
            "bill_id": self.bill_id,
            "bill_detail_id": self.bill_detail_id,
            "domain": self.domain,
            "description": self.description,
            "period_start": None if self.period_start is None else self.period_start.isoformat(),
            "period_end": None if self.period_end is None else self.period_end.isoformat(),
            "quantity": self.quantity_text,
            "unit_price": self.unit_price.to_json(),
            "total_price": self.total_price.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any) -> BillLine:
        obj = _object(data)
        quantity_text = optional_string(obj["quantity"])
        quantity, problem = parse_quantity(quantity_text)
        return cls(
            bill_detail_id=string(obj["bill_detail_id"]),
            bill_id=optional_string(obj["bill_id"]),
            description=string(obj["description"]),
            domain=string(obj["domain"]),
            period_start=_date(obj["period_start"]),
            period_end=_date(obj["period_end"]),
            quantity_text=quantity_text,
            quantity=quantity,
            quantity_problem=problem,
            unit_price=Amount.from_json(obj["unit_price"]),
            total_price=Amount.from_json(obj["total_price"]),
        )


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

    def to_json(self) -> JSONObject:
        return {"currency": self.currency, "total": money_text(self.total)}

    @classmethod
    def from_json(cls, data: Any) -> CurrencyTotal:
        obj = _object(data)
        return cls(string(obj["currency"]), _decimal(obj["total"]))


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

    def to_json(self) -> JSONObject:
        return {
            "service_name": self.service_name,
            "license": self.license,
            "invoiced_quantity": decimal_text(self.invoiced_quantity),
            "billed_vms": self.billed_vms,
            "difference": decimal_text(self.difference),
            "status": self.status.value,
            "currency": self.currency,
            "total": None if self.total is None else money_text(self.total),
            "totals": [total.to_json() for total in self.totals],
            "unit_price": None if self.unit_price is None else self.unit_price.to_json(),
            "lines": list(self.lines),
        }

    @classmethod
    def from_json(cls, data: Any) -> InvoiceRow:
        obj = _object(data)
        billed = obj["billed_vms"]
        if not isinstance(billed, int) or isinstance(billed, bool) or billed < 0:
            raise ValueError(f"billed_vms: expected a count, got {shown(billed)}")
        return cls(
            service_name=string(obj["service_name"]),
            license=string(obj["license"]),
            invoiced_quantity=_decimal(obj["invoiced_quantity"]),
            billed_vms=billed,
            status=RowStatus(string(obj["status"])),
            totals=_list(obj["totals"], CurrencyTotal.from_json),
            unit_price=Amount.optional(obj["unit_price"]),
            lines=_list(obj["lines"], string),
        )


@dataclass(frozen=True)
class SetAsideLine:
    """A line of a run's service that is not compared, with the reason (shown whole)."""

    line: BillLine
    reason: str

    def to_json(self, status: str | None = None) -> JSONObject:
        """The line whole, with why it is not in a row (and its status, when it has one)."""
        head: JSONObject = {} if status is None else {"status": status}
        return {**head, "reason": self.reason, **self.line.to_json()}

    @classmethod
    def from_json(cls, data: Any) -> SetAsideLine:
        obj = _object(data)
        return cls(BillLine.from_json(obj), string(obj["reason"]))


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

    def to_json(self) -> JSONObject:
        """invoice.json's content, also findings.json's `reconciliation`."""
        return {
            "period": self.period.label,
            "bills_from": self.window.first.isoformat(),
            "bills_to": self.window.last.isoformat(),
            "patterns": dict(self.patterns),
            "bills": [bill.to_json() for bill in self.bills],
            "rows": [row.to_json() for row in self.rows],
            "unclassified": [entry.to_json(BILL_UNCLASSIFIED) for entry in self.unclassified],
            "outside_period": [entry.to_json() for entry in self.outside_period],
        }

    @classmethod
    def from_json(cls, data: Any) -> Reconciliation:
        """Read back what `to_json` wrote; a damaged document raises ValueError or KeyError
        (RunReport turns it into an input error naming the file)."""
        obj = _object(data)
        label = string(obj["period"])
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", label):
            raise ValueError(f"period: expected YYYY-MM, got {shown(label)}")
        patterns = _object(obj["patterns"])
        first, last = _date(obj["bills_from"]), _date(obj["bills_to"])
        if first is None or last is None:
            raise ValueError("bills_from and bills_to: expected dates")
        return cls(
            period=Period(int(label[:4]), int(label[5:])),
            window=BillWindow(first, last),
            bills=_list(obj["bills"], Bill.from_json),
            rows=_list(obj["rows"], InvoiceRow.from_json),
            unclassified=_list(obj["unclassified"], SetAsideLine.from_json),
            outside_period=_list(obj["outside_period"], SetAsideLine.from_json),
            patterns=tuple((string(key), string(value)) for key, value in patterns.items()),
        )
