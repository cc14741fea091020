"""`ovh-license-audit snapshot`: collect only."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from audit.cli.options import (
    CREDENTIALS_EPILOG,
    INPUT_ERROR,
    HelpFormatter,
    add_api_arguments,
    exit_codes_epilog,
    load_config_arg,
)
from audit.collect.collector import collect
from audit.collect.options import collect_options_from, coverage_line, factory_from, print_failures
from audit.model.snapshot import write_snapshot
from audit.runtime.text import printable
from audit.support.crash import note_output_folder
from audit.support.errors import ExitCode, InputError


def run_snapshot(args: argparse.Namespace) -> int:
    config = load_config_arg(args)
    note_output_folder(args.out.parent)
    if args.out.is_dir():
        raise InputError(f"--out {args.out}: is a folder; give the snapshot file to write")
    factory = factory_from(args, config)
    snapshot = collect(factory, collect_options_from(args, config), factory.endpoint)
    digest = write_snapshot(snapshot, args.out)
    meta = snapshot.meta
    print(f"snapshot: {args.out} (sha256 {digest})")
    print(f"calls: {meta.calls} ({meta.retries} retried) in {meta.duration_s:.1f}s")
    print(f"pace: {meta.rate_reached:g} requests/s reached, {meta.throttled} answered 429")
    for fallback in meta.listing_fallbacks:
        print(f"ovh-license-audit: warning: paged listing: {printable(fallback)}", file=sys.stderr)
    print(coverage_line(snapshot.coverage))
    if not snapshot.coverage.complete:
        print_failures(snapshot)
        return int(ExitCode.INCOMPLETE)
    return int(ExitCode.OK)


EPILOG = (
    CREDENTIALS_EPILOG
    + "\n"
    + exit_codes_epilog(
        ("0", "the snapshot is written and complete"),
        INPUT_ERROR,
        ("3", "the collection was incomplete (the snapshot is written, with its coverage)"),
    )
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "snapshot",
        help="collect every VM and licence into a snapshot file",
        description="Collect every service, datacenter and VM into snapshot.json.gz.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    add_api_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="snapshot file to write")
    parser.set_defaults(handler=run_snapshot)
