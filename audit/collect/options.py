"""The shared API flags (audit/cli/options.py) turned into collect's objects, and the coverage
lines every command that collects prints."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from typing import Any

from audit.collect.api import ClientFactory, read_ovh_conf_endpoint, resolve_endpoint
from audit.collect.collector import CollectOptions, Listing
from audit.collect.retry import RetryPolicy
from audit.collect.sources import locate
from audit.config.settings import DEFAULT_MAX_RPS, DEFAULT_WORKERS, Config
from audit.model.snapshot import Coverage, Snapshot
from audit.runtime.text import printable

#: The endpoint when neither a flag, the config file nor the `ovh` way names one.
DEFAULT_ENDPOINT = "ovh-eu"


@dataclass(frozen=True)
class EndpointChoice:
    """The endpoint a command uses (as the client registered it) and what chose it."""

    endpoint: str
    source: str


def endpoint_choice(args: argparse.Namespace, config: Config) -> EndpointChoice:
    """--endpoint, then the config file, then the `ovh` way (OVH_ENDPOINT, ovh.conf, then
    the file named by `ovh_config`, which `ovh.Client` reads last), then ovh-eu."""
    if args.endpoint:
        return EndpointChoice(resolve_endpoint(args.endpoint), "--endpoint")
    if config.endpoint:
        where = "" if getattr(args, "config", None) is None else f" in {args.config}"
        return EndpointChoice(resolve_endpoint(config.endpoint), f"audit.endpoint{where}")
    found = read_ovh_conf_endpoint(config.ovh_config)
    if found:
        where = locate("endpoint", "default", config.ovh_config).where or "ovh.conf"
        return EndpointChoice(resolve_endpoint(found), where)
    return EndpointChoice(resolve_endpoint(DEFAULT_ENDPOINT), "the default")


def endpoint_from(args: argparse.Namespace, config: Config) -> str:
    return endpoint_choice(args, config).endpoint


def retry_policy(config: Config) -> RetryPolicy:
    """The default policy with the file's retry settings, where it sets them."""
    changes: dict[str, Any] = {}
    if config.max_retries is not None:
        changes["max_retries"] = config.max_retries
    if config.retry_base_delay_s is not None:
        changes["base_delay_s"] = config.retry_base_delay_s
    return replace(RetryPolicy(), **changes)


def collect_options_from(args: argparse.Namespace, config: Config) -> CollectOptions:
    """Flags win over the config file, which wins over the defaults."""
    return CollectOptions(
        workers=args.workers or config.workers or DEFAULT_WORKERS,
        max_rps=args.max_rps or config.max_rps or DEFAULT_MAX_RPS,
        retry=retry_policy(config),
        progress=True,
        listing=Listing(getattr(args, "listing", Listing.PER_VM)),
        deadline_s=getattr(args, "deadline", None) or config.deadline_s,
    )


def factory_from(args: argparse.Namespace, config: Config) -> ClientFactory:
    return ClientFactory(endpoint=endpoint_from(args, config), config_file=config.ovh_config)


def coverage_line(coverage: Coverage) -> str:
    state = "complete" if coverage.complete else "INCOMPLETE"
    return (
        f"coverage: {state}: {coverage.services_read}/{coverage.services_listed} services, "
        f"{coverage.datacenters_read}/{coverage.datacenters_listed} datacenters, "
        f"{coverage.vms_fetched}/{coverage.vms_listed} VMs read"
    )


def print_failures(snapshot: Snapshot, limit: int = 10) -> None:
    failures = snapshot.coverage.failures
    for failure in failures[:limit]:
        print(f"  not read: {printable(failure.path)}: {printable(failure.error)}", file=sys.stderr)
    if len(failures) > limit:
        print(f"  ... and {len(failures) - limit} more (see coverage)", file=sys.stderr)
