"""The run folder after `invoice RUN_DIR`: invoice.json, findings.json's `reconciliation`, the
reports rebuilt and the manifest's new hashes with the reconciliation's stamp.

The snapshot, the remediation plan and every other file the manifest lists are checked first
and copied as they are; the folder is replaced whole (a staging folder renamed into place),
so an error or an interrupt leaves it as it was.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.config.invoice import InvoiceSettings
from audit.history.publish import mend_folder, unchanged_since
from audit.invoice import bill_window, billed_by_service, invoice_json, reconcile
from audit.model.invoice import Reconciliation
from audit.model.run import RunReport
from audit.reconciliation.sources import BillSource, ObtainedBills
from audit.run_folder import (
    FINDINGS_FILE,
    MANIFEST_FILE,
    check_inputs,
    load_run_with_history,
    manifest_bytes,
    manifest_stamps,
    render_all,
    renderers,
    write_manifest,
)
from audit.support.errors import InputError
from audit.support.fsutil import atomic_write_text, staged_directory
from audit.support.jsontypes import JSONObject

INVOICE_FILE = "invoice.json"
#: The manifest's key for the reconciliation's stamp (`reconciled_at`, where the bills came
#: from, invoice.json's sha256).
STAMP_KEY = "reconciliation"


@dataclass(frozen=True)
class Reconciled:
    """What `invoice RUN_DIR` wrote: the comparison and where the bills came from."""

    run_dir: Path
    reconciliation: Reconciliation
    obtained: ObtainedBills
    reconciled_at: str
    run_complete: bool  # False: what the run could not read has no billed VMs here


def billed_vms(report: RunReport, path: Path) -> dict[tuple[str, str], int]:
    """`billed_vms` per service and licence value from findings.json's `licences`."""
    if any(row.billed_vms is None for row in report.licences):
        raise InputError(
            f"{path}: licences: no billed_vms (written before billed VMs were counted); run "
            "the period again to reconcile it"
        )
    return billed_by_service(
        (row.service_name, row.license, row.billed_vms or 0) for row in report.licences
    )


def stamp(
    obtained: ObtainedBills, invoice_text: str, previous: Any, now: Callable[[], datetime]
) -> JSONObject:
    """The manifest's record of this reconciliation. The same bills from the same source give
    the same invoice.json: the time it was first written is kept, so the files stay the same
    bytes when `invoice` runs again."""
    fresh: JSONObject = {
        **obtained.origin,
        "invoice_sha256": hashlib.sha256(invoice_text.encode("utf-8")).hexdigest(),
    }
    if isinstance(previous, dict):
        kept = previous.get("reconciled_at")
        rest = {key: value for key, value in previous.items() if key != "reconciled_at"}
        if isinstance(kept, str) and rest == fresh:
            return {"reconciled_at": kept, **fresh}
    return {"reconciled_at": now().astimezone(UTC).isoformat(timespec="seconds"), **fresh}


def reconcile_run(
    run_dir: Path,
    source: BillSource,
    settings: InvoiceSettings,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Reconciled:
    """Check the run folder, obtain the period's bills, compare, and rewrite the folder."""
    derived = {renderer.filename for renderer in renderers()} | {MANIFEST_FILE}
    mend_folder(run_dir.parent)  # a killed run's committed folder first, as `report` does
    seen = manifest_bytes(run_dir)
    inputs, added = check_inputs(run_dir, derived, refused="nothing written")
    stamps = manifest_stamps(run_dir)
    run = load_run_with_history(run_dir)
    meta = run.report.run
    period = meta.period
    billed = billed_vms(run.report, run_dir / FINDINGS_FILE)
    obtained = source.obtain(bill_window(period, settings.days_after))
    result = reconcile(
        obtained.lines,
        period=period,
        services=set(run.inventory.services),
        billed_vms=billed,
        settings=settings,
        bills=obtained.bills,
    )
    report = replace(run.report, reconciliation=result)
    invoice_text = invoice_json(result)
    stamps[STAMP_KEY] = stamp(obtained, invoice_text, stamps.get(STAMP_KEY), now)
    rewritten = {FINDINGS_FILE, INVOICE_FILE}
    unchanged = functools.partial(unchanged_since, run_dir, MANIFEST_FILE, seen, "invoice")
    with staged_directory(run_dir, swap_under=unchanged) as stage:
        for name in (*inputs, *added):
            if name in rewritten:
                continue
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(run_dir / name, stage / name)
        atomic_write_text(stage / INVOICE_FILE, invoice_text)
        atomic_write_text(stage / FINDINGS_FILE, report.dumps())
        render_all(replace(run, report=report), stage)
        unlisted = [name for name in added if name not in rewritten]
        write_manifest(stage, meta.period, run.snapshot_sha256, unlisted, stamps)
    reconciled_at = str(stamps[STAMP_KEY]["reconciled_at"])
    return Reconciled(run_dir, result, obtained, reconciled_at, meta.coverage.complete)
