"""`billing.Bill` and `billing.BillDetail` objects (shared/ovh-schema/me.json) as records.

The same parser reads what the API answered and what a `--bills` file holds, so both paths
accept exactly the same lines. A field the reconciliation needs that is missing or of the
wrong type is a `BillDataError`; a quantity that is not a decimal number is not: the line is
kept, and reported as unclassified with the reason.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from audit.model.invoice import Amount, Bill, BillLine, parse_quantity, shown
from audit.support.errors import InputError

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class BillDataError(ValueError):
    """An object the reconciliation cannot read: the field (a JSON path) and the problem."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _valid(text: str) -> str:
    """A lone surrogate (`"\\ud800"` in JSON) as U+FFFD: no UTF-8 file could hold it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _object(value: object, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BillDataError(field, f"expected an object, got {shown(value)}")
    return value


def _string(data: dict[str, Any], key: str, where: str = "") -> str:
    field = f"{where}{key}"
    if key not in data:
        raise BillDataError(field, "missing")
    value = data[key]
    if not isinstance(value, str):
        raise BillDataError(field, f"expected a string, got {shown(value)}")
    return _valid(value)


def _identifier(data: dict[str, Any], key: str) -> str:
    """An id: a string in the schema; a whole number written by hand is taken as its text."""
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = _string(data, key)
    if not text.strip():
        raise BillDataError(key, "empty")
    return text


def _number(value: object, field: str) -> Decimal:
    """A `double`: exact as written in a file (parsed as Decimal), or the float's shortest
    repr as the API client decoded it; never NaN or infinite."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise BillDataError(field, f"expected a number, got {shown(value)}")
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise BillDataError(field, f"expected a finite number, got {shown(value)}")
    return number


def _amount(data: dict[str, Any], key: str) -> Amount:
    """An `order.Price` or `order.LongPrice`: currency and value needed, text optional."""
    if key not in data:
        raise BillDataError(key, "missing")
    price = _object(data[key], key)
    currency = _string(price, "currencyCode", f"{key}.")
    if not currency.strip():
        raise BillDataError(f"{key}.currencyCode", "empty")
    if "value" not in price:
        raise BillDataError(f"{key}.value", "missing")
    value = _number(price["value"], f"{key}.value")
    text = price.get("text")
    if text is not None and not isinstance(text, str):
        raise BillDataError(f"{key}.text", f"expected a string, got {shown(text)}")
    return Amount(currency=currency, value=value, text=_valid(text or ""))


def _date(data: dict[str, Any], key: str) -> date | None:
    """A `date` (YYYY-MM-DD) that may be null or absent."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise BillDataError(key, f"expected a date YYYY-MM-DD or null, got {shown(value)}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BillDataError(key, f"not a calendar date: {shown(value)}") from None


def bill_line(data: object, bill_id: str | None = None) -> BillLine:
    """A `billing.BillDetail` as a record; raises BillDataError naming the field."""
    obj = _object(data, "(line)")
    quantity, problem = parse_quantity(obj.get("quantity"))
    raw_quantity = obj.get("quantity")
    return BillLine(
        bill_detail_id=_identifier(obj, "billDetailId"),
        bill_id=bill_id,
        description=_string(obj, "description"),
        domain=_string(obj, "domain"),
        period_start=_date(obj, "periodStart"),
        period_end=_date(obj, "periodEnd"),
        quantity_text=None if raw_quantity is None else _valid(str(raw_quantity)),
        quantity=quantity,
        quantity_problem=problem,
        unit_price=_amount(obj, "unitPrice"),
        total_price=_amount(obj, "totalPrice"),
    )


def bill(data: object) -> Bill:
    """A `billing.Bill`: its id and date (a datetime with its offset)."""
    obj = _object(data, "(bill)")
    when = _string(obj, "date")
    try:
        datetime.fromisoformat(when)
    except ValueError:
        raise BillDataError("date", f"expected a datetime, got {shown(when)}") from None
    return Bill(bill_id=_identifier(obj, "billId"), date=when)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def load_bill_lines(path: Path) -> tuple[BillLine, ...]:
    """A `--bills` file: a JSON array of BillDetail objects. Any problem is one InputError
    naming the file, the item's index and the field; nothing is read in part."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text: {exc.reason}") from None
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON array of BillDetail objects")
    lines: list[BillLine] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(data):
        try:
            line = bill_line(item)
        except BillDataError as exc:
            field = "" if exc.field.startswith("(") else f".{exc.field}"
            raise InputError(f"{path}: [{index}]{field}: {exc.problem}") from None
        seen = first_index.setdefault(line.bill_detail_id, index)
        if seen != index:
            raise InputError(
                f"{path}: [{index}].billDetailId: {shown(line.bill_detail_id)} already at "
                f"[{seen}] (a line counted twice would be invoiced twice)"
            )
        lines.append(line)
    return tuple(lines)
