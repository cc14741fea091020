"""`ovh-license-audit invoice RUN_DIR`: the run's period reconciled with OVHcloud's bills."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from audit.cli.options import CREDENTIALS_EPILOG, HelpFormatter, exit_codes_epilog, load_config_arg
from audit.collect.options import collect_options_from, factory_from
from audit.model.invoice import Reconciliation, RowStatus, decimal_text
from audit.reconciliation import (
    INVOICE_FILE,
    BillsFromApi,
    BillsFromFile,
    BillSource,
    Reconciled,
    reconcile_run,
)
from audit.render.reconciliation import count_line, signed
from audit.render.safe_text import visible_controls
from audit.support.console import stdout_may_close
from audit.support.errors import ExitCode

_ROWS_PRINTED = 20


def summary_lines(done: Reconciled, today: str) -> list[str]:
    """What `invoice` prints: the bills read, the rows by status, the rows that differ."""
    result: Reconciliation = done.reconciliation
    origin = done.obtained.origin
    where = (
        f"--bills {origin['file']}"
        if origin["source"] == "--bills"
        else f"{origin['endpoint']} ({len(result.bills)} bill(s) issued {result.window.first} "
        f"to {result.window.last})"
    )
    lines = [
        f"invoice {result.period.label}: {len(done.obtained.lines)} bill line(s) from {where}",
        f"rows: {count_line(result)}; {len(result.outside_period)} line(s) outside the period",
    ]
    differing = [row for row in result.rows if row.status is not RowStatus.OK]
    for row in differing[:_ROWS_PRINTED]:
        lines.append(
            f"  {row.status.value:<10} {visible_controls(row.service_name)} {row.license}: "
            f"invoiced {decimal_text(row.invoiced_quantity)}, billed VMs {row.billed_vms} "
            f"({signed(row.difference)})"
        )
    if len(differing) > _ROWS_PRINTED:
        lines.append(f"  ... and {len(differing) - _ROWS_PRINTED} more (see {INVOICE_FILE})")
    if result.period.end.isoformat() >= today:
        lines.append(
            f"note: {result.period.label} has not ended: OVHcloud invoices its licences at the "
            "start of the next month; run `invoice` again then"
        )
    lines.append(f"run folder: {done.run_dir} (reconciled at {done.reconciled_at})")
    lines += [f"  {done.run_dir / name}" for name in (INVOICE_FILE, "report.html", "report.xlsx")]
    return lines


def invoice_command(args: argparse.Namespace) -> int:
    config = load_config_arg(args)  # bad [invoice] patterns stop here, before anything
    source: BillSource
    if args.bills is not None:
        source = BillsFromFile.load(args.bills)
    else:
        source = BillsFromApi(factory_from(args, config), collect_options_from(args, config))
    done = reconcile_run(args.run_dir, source, config.invoice)
    if not done.run_complete:
        print(
            "ovh-license-audit: warning: the run's collection was incomplete: the VMs it could "
            "not read are not in billed VMs, so their licences may show as BILL-OVER",
            file=sys.stderr,
        )
    with stdout_may_close():  # the folder is written: a reader that went away changes nothing
        for line in summary_lines(done, datetime.now(UTC).date().isoformat()):
            print(line)
    return int(ExitCode.FINDINGS if done.reconciliation.differs else ExitCode.OK)


EPILOG = (
    CREDENTIALS_EPILOG
    + "\n"
    + exit_codes_epilog(
        ("0", "every row is ok (invoiced as many as the VMs billed)"),
        ("1", "a row is BILL-OVER or BILL-UNDER"),
        (
            "2",
            "usage, configuration, credential or input error (a bad --bills file or [invoice] "
            "pattern, a key that may not read bills, a run folder that differs from its "
            "manifest): nothing written",
        ),
        ("3", "a bill or a bill line could not be read: nothing written"),
    )
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "invoice",
        help="reconcile a run folder's period with OVHcloud's bills",
        description="Read the bills issued from the period's first day to [invoice] days_after "
        "days after its end (or a --bills file), compare per service and licence value the "
        "quantity invoiced with the VMs billed, and write invoice.json, findings.json's "
        "reconciliation and the reports into RUN_DIR.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR", help="a run folder written by `run`"
    )
    given = parser.add_mutually_exclusive_group()
    given.add_argument(
        "--endpoint",
        help="ovh endpoint name (ovh-eu, ovh-ca, ...) or a base URL ending in /1.0",
    )
    given.add_argument(
        "--bills",
        type=Path,
        metavar="FILE",
        help="a JSON array of billing.BillDetail objects instead of the API",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML configuration file ([invoice]; [audit] for the endpoint, pace and retries)",
    )
    parser.set_defaults(handler=invoice_command, workers=None, max_rps=None)
