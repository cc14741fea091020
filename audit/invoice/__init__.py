"""Invoice reconciliation: what OVHcloud invoiced per service and licence value against the
VMs its billing rule bills (docs/DESIGN.md, "Invoice reconciliation").

Pure records and rules: the bills are read by audit.collect (or from a `--bills` file with
`load_bill_lines`), compared by `reconcile` and written by `invoice_json`.
"""

from audit.config.invoice import InvoiceSettings, LicencePattern, invoice_settings
from audit.invoice.classify import Classified, classify, licence_of
from audit.invoice.document import invoice_document, invoice_json
from audit.invoice.parse import BillDataError, bill, bill_line, load_bill_lines
from audit.invoice.reconcile import RowKey, bill_window, billed_by_service, reconcile
from audit.invoice.rights import BILLING_RULES, missing_billing_rights
from audit.model.invoice import (
    BILL_UNCLASSIFIED,
    BILL_UNCLASSIFIED_SEVERITY,
    Amount,
    Bill,
    BillLine,
    BillWindow,
    CurrencyTotal,
    InvoiceRow,
    Reconciliation,
    RowStatus,
    SetAsideLine,
    parse_quantity,
)

__all__ = [
    "BILLING_RULES",
    "BILL_UNCLASSIFIED",
    "BILL_UNCLASSIFIED_SEVERITY",
    "Amount",
    "Bill",
    "BillDataError",
    "BillLine",
    "BillWindow",
    "Classified",
    "CurrencyTotal",
    "InvoiceRow",
    "InvoiceSettings",
    "LicencePattern",
    "Reconciliation",
    "RowKey",
    "RowStatus",
    "SetAsideLine",
    "bill",
    "bill_line",
    "bill_window",
    "billed_by_service",
    "classify",
    "invoice_document",
    "invoice_json",
    "invoice_settings",
    "licence_of",
    "load_bill_lines",
    "missing_billing_rights",
    "parse_quantity",
    "reconcile",
]
