"""`ovh-license-audit snapshot`: collect only, and the API options shared with `run`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ovh.config import ConfigurationManager

from audit.collect.api import ClientFactory, resolve_endpoint
from audit.collect.collector import (
    DEFAULT_MAX_RPS,
    DEFAULT_WORKERS,
    CollectOptions,
    Listing,
    collect,
)
from audit.config import Config, load_config
from audit.errors import ExitCode, InputError
from audit.snapshot import Snapshot, write_snapshot


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def add_api_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of every command that reads the API."""
    parser.add_argument(
        "--endpoint",
        help="ovh endpoint name (ovh-eu, ovh-ca, ...) or a base URL ending in /1.0",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        help=f"concurrent API calls (default {DEFAULT_WORKERS})",
    )
    parser.add_argument(
        "--max-rps",
        type=positive_float,
        help=(
            "ceiling of the adaptive pace, in API calls per second "
            f"(default {DEFAULT_MAX_RPS:g}; the pace starts at 10 and follows the API's 429s)"
        ),
    )
    parser.add_argument(
        "--listing",
        type=Listing,
        choices=list(Listing),
        default=Listing.PER_VM,
        help="per-vm (default): one GET per VM; paged: pages of full VM objects (unverified "
        "on the real API; falls back to per-vm for a datacenter whose pages do not match)",
    )
    parser.add_argument("--config", type=Path, help="TOML configuration file")


def load_config_arg(args: argparse.Namespace) -> Config:
    return Config() if args.config is None else load_config(args.config)


def endpoint_from(args: argparse.Namespace, config: Config) -> str:
    """--endpoint, then the config file, then the `ovh` way (OVH_ENDPOINT, ovh.conf)."""
    chosen = args.endpoint or config.endpoint
    if chosen is None:
        chosen = ConfigurationManager().get("default", "endpoint") or "ovh-eu"
    return resolve_endpoint(chosen)


def collect_options_from(args: argparse.Namespace, config: Config) -> CollectOptions:
    """Flags win over the config file, which wins over the defaults."""
    return CollectOptions(
        workers=args.workers or config.workers or DEFAULT_WORKERS,
        max_rps=args.max_rps or config.max_rps or DEFAULT_MAX_RPS,
        retry=config.retry_policy(),
        progress=True,
        listing=args.listing,
    )


def factory_from(args: argparse.Namespace, config: Config) -> ClientFactory:
    return ClientFactory(endpoint=endpoint_from(args, config), config_file=config.ovh_config)


def coverage_line(snapshot: Snapshot) -> str:
    coverage = snapshot.coverage
    state = "complete" if coverage.complete else "INCOMPLETE"
    return (
        f"coverage: {state}: {coverage.services_read}/{coverage.services_listed} services, "
        f"{coverage.datacenters_read}/{coverage.datacenters_listed} datacenters, "
        f"{coverage.vms_fetched}/{coverage.vms_listed} VMs read"
    )


def print_failures(snapshot: Snapshot, limit: int = 10) -> None:
    failures = snapshot.coverage.failures
    for failure in failures[:limit]:
        print(f"  not read: {failure.path}: {failure.error}", file=sys.stderr)
    if len(failures) > limit:
        print(f"  ... and {len(failures) - limit} more (see coverage)", file=sys.stderr)


def run_snapshot(args: argparse.Namespace) -> int:
    config = load_config_arg(args)
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
        print(f"ovh-license-audit: warning: paged listing: {fallback}", file=sys.stderr)
    print(coverage_line(snapshot))
    if not snapshot.coverage.complete:
        print_failures(snapshot)
        return int(ExitCode.INCOMPLETE)
    return int(ExitCode.OK)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "snapshot",
        help="collect every VM and licence into a snapshot file",
        description="Collect every service, datacenter and VM into snapshot.json.gz.",
    )
    add_api_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="snapshot file to write")
    parser.set_defaults(handler=run_snapshot)
