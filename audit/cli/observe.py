"""`ovh-license-audit observe`: the cheap daily job (cron every day) that records one
observation per UTC day, so the monthly run counts what ran during the month."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from audit.cli.options import (
    CREDENTIALS_EPILOG,
    DEFAULT_OUT,
    INPUT_ERROR,
    HelpFormatter,
    add_api_arguments,
    exit_codes_epilog,
    load_config_arg,
)
from audit.collect.options import coverage_line, print_failures
from audit.exposure.observe import checked_day, parse_day, record_day
from audit.job import SnapshotSource, refuse_nothing_read
from audit.support.crash import note_output_folder
from audit.support.errors import ExitCode
from audit.support.fsutil import check_writable_folder


def how(args: argparse.Namespace) -> str:
    """The observation's `source`: a stored snapshot, a collection filed under another day
    (`--date`), or collected live on its day."""
    if args.from_snapshot is not None:
        return "observe --from-snapshot"
    return "observe" if args.date is None else "observe --date"


def observe_command(args: argparse.Namespace) -> int:
    config = load_config_arg(args)
    today = datetime.now(UTC).date()
    # --date is checked before the first API call: a typo costs nothing.
    day = None if args.date is None else parse_day(args.date, today)
    out = args.out or config.out or DEFAULT_OUT
    note_output_folder(out)
    check_writable_folder(out)
    source = SnapshotSource.from_args(args, config)
    snapshot, snapshot_bytes = source.load()
    # Its own UTC day, which must be a day it can have been taken on, even under --date.
    taken = checked_day(snapshot, today, source.from_file)
    day = day or taken
    refuse_nothing_read(snapshot, day.isoformat())
    observed = record_day(out, snapshot, snapshot_bytes, day, source=how(args))
    if observed.kept:
        print(
            f"observation of {day.isoformat()} NOT recorded: it is incomplete and the day's "
            f"complete observation is kept; {coverage_line(snapshot.coverage)}"
        )
        print_failures(snapshot)
        return int(ExitCode.INCOMPLETE)
    verb = "replaced" if observed.replaced else "recorded"
    print(
        f"observation of {day.isoformat()} {verb}: {observed.vms} VM(s); "
        f"{coverage_line(snapshot.coverage)}"
    )
    print(f"  {observed.path} (sha256 {observed.snapshot_sha256})")
    if not snapshot.coverage.complete:
        print_failures(snapshot)
        print("  what could not be read counts as unobserved that day, never as absent")
        return int(ExitCode.INCOMPLETE)
    return int(ExitCode.OK)


EPILOG = (
    CREDENTIALS_EPILOG
    + "\n"
    + exit_codes_epilog(
        ("0", "the day's observation is recorded, complete"),
        INPUT_ERROR,
        (
            "3",
            "the collection was incomplete: recorded with its coverage, or not recorded when the "
            "day already has a complete observation",
        ),
    )
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "observe",
        help="the daily job: record today's observation for the monthly exposure",
        description=(
            "Collect like `run` (or read a stored snapshot) and record it as one UTC day's "
            "observation in DIR/history.sqlite, keeping it as DIR/observations/YYYY-MM-DD.json.gz."
        ),
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    add_api_arguments(parser)
    parser.add_argument("--out", type=Path, help=f"output folder (default {DEFAULT_OUT}/)")
    parser.add_argument(
        "--date",
        help="record it as this UTC day, YYYY-MM-DD from 2000-01-01 to today (a late job or a "
        "backfill)",
    )
    parser.add_argument(
        "--from-snapshot", type=Path, help="record a stored snapshot instead of collecting"
    )
    parser.set_defaults(handler=observe_command)
