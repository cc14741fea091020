"""`invoice RUN_DIR`: a run folder's period reconciled with OVHcloud's bills, in place.

The bills come from the API (audit.collect.bills) or a `--bills` file (`sources`); the run
folder is checked against its manifest, then rewritten whole with invoice.json, findings.json's
`reconciliation`, the reports and the manifest (`folder`). Nothing is written on any error.
"""

from audit.reconciliation.folder import INVOICE_FILE, Reconciled, reconcile_run
from audit.reconciliation.sources import (
    BillsFromApi,
    BillsFromFile,
    BillSource,
    IncompleteBillsError,
    ObtainedBills,
)

__all__ = [
    "INVOICE_FILE",
    "BillSource",
    "BillsFromApi",
    "BillsFromFile",
    "IncompleteBillsError",
    "ObtainedBills",
    "Reconciled",
    "reconcile_run",
]
