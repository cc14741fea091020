"""invoice.json: a reconciliation written the same way every time (DESIGN.md, "Invoice
reconciliation").

Quantities and amounts are exact decimals written as strings ("3", "-1", "24.50"), as the
API writes a line's quantity; `billed_vms` is a count. Nothing in it depends on when it was
written, so the same bills and run give the same bytes.
"""

from __future__ import annotations

import json
from decimal import Decimal

from audit.invoice.records import (
    BILL_UNCLASSIFIED,
    Amount,
    InvoiceRow,
    Reconciliation,
    SetAsideLine,
)
from audit.support.jsontypes import JSONObject


def decimal_text(value: Decimal) -> str:
    """A decimal without exponent; a whole number without a fraction ("3", not "3.00")."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def money_text(value: Decimal) -> str:
    """An amount as computed, its decimals kept ("73.50" stays so), never an exponent."""
    return format(value, "f")


def _amount(amount: Amount | None) -> JSONObject | None:
    if amount is None:
        return None
    return {"currency": amount.currency, "value": money_text(amount.value), "text": amount.text}


def _row(row: InvoiceRow) -> JSONObject:
    return {
        "service_name": row.service_name,
        "license": row.license,
        "invoiced_quantity": decimal_text(row.invoiced_quantity),
        "billed_vms": row.billed_vms,
        "difference": decimal_text(row.difference),
        "status": row.status.value,
        "currency": row.currency,
        "total": None if row.total is None else money_text(row.total),
        "totals": [
            {"currency": total.currency, "total": money_text(total.total)} for total in row.totals
        ],
        "unit_price": _amount(row.unit_price),
        "lines": list(row.lines),
    }


def _line(entry: SetAsideLine, status: str | None) -> JSONObject:
    """A line whole, as the bill gave it, with why it is not in a row."""
    line = entry.line
    head: JSONObject = {} if status is None else {"status": status}
    return {
        **head,
        "reason": entry.reason,
        "bill_id": line.bill_id,
        "bill_detail_id": line.bill_detail_id,
        "domain": line.domain,
        "description": line.description,
        "period_start": None if line.period_start is None else line.period_start.isoformat(),
        "period_end": None if line.period_end is None else line.period_end.isoformat(),
        "quantity": line.quantity_text,
        "unit_price": _amount(line.unit_price),
        "total_price": _amount(line.total_price),
    }


def invoice_document(reconciliation: Reconciliation) -> JSONObject:
    """invoice.json's content."""
    window = reconciliation.window
    return {
        "period": reconciliation.period.label,
        "bills_from": window.first.isoformat(),
        "bills_to": window.last.isoformat(),
        "patterns": dict(reconciliation.patterns),
        "bills": [{"bill_id": bill.bill_id, "date": bill.date} for bill in reconciliation.bills],
        "rows": [_row(row) for row in reconciliation.rows],
        "unclassified": [_line(entry, BILL_UNCLASSIFIED) for entry in reconciliation.unclassified],
        "outside_period": [_line(entry, None) for entry in reconciliation.outside_period],
    }


def invoice_json(reconciliation: Reconciliation) -> str:
    """invoice.json's text: two-space indent, keys in the order above, a final newline."""
    return json.dumps(invoice_document(reconciliation), indent=2, ensure_ascii=False) + "\n"
