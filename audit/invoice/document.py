"""invoice.json: a reconciliation written the same way every time (docs/DESIGN.md, "Invoice
reconciliation").

The document is the record's own (audit/model/invoice.py), so invoice.json and findings.json's
`reconciliation` are the same; two-space indent, keys in the record's order, a final newline.
"""

from __future__ import annotations

import json

from audit.model.invoice import Reconciliation
from audit.support.jsontypes import JSONObject


def invoice_document(reconciliation: Reconciliation) -> JSONObject:
    """invoice.json's content."""
    return reconciliation.to_json()


def invoice_json(reconciliation: Reconciliation) -> str:
    """invoice.json's text."""
    return json.dumps(invoice_document(reconciliation), indent=2, ensure_ascii=False) + "\n"
