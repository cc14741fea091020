"""The command-line options every command that reads the API shares, as argparse sees them.

A leaf below every stage: `run`, `snapshot` and `remediate` parse the same flags without
importing one another. Turning the parsed flags into collect's objects is collect's job
(audit/collect/options.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.config.settings import (
    DEFAULT_MAX_RPS,
    DEFAULT_WORKERS,
    MAX_RPS,
    WORKERS,
    Config,
    load_config,
)
from audit.config.values import Range
from audit.model.period import Period, parse_period

# How a datacenter's VMs are read (audit.collect.collector.Listing).
LISTINGS = ("per-vm", "paged")

# Where `run` and `observe` write when neither --out nor the config says.
DEFAULT_OUT = Path("reports")

API_EPILOG = """\
credentials come the `ovh` way, first found wins:
  OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET, OVH_CONSUMER_KEY (and OVH_ENDPOINT)
  the file named by ovh_config in the --config file
  ovh.conf in the working folder, then ~/.ovh.conf, then /etc/ovh.conf

exit codes:
  0  no open finding at or above --fail-on (snapshot: the collection is complete)
  1  at least one such finding (run only)
  2  usage, configuration, credential or input error (one line on stderr)
  3  the collection was incomplete (takes precedence over 1)
  4  run --mail: the run folder is complete but the mail could not be delivered
  130, 143  interrupted by SIGINT or SIGTERM (nothing half-written)
"""


def number_argument(parse: Callable[[str], float], accepted: Range) -> Callable[[str], Any]:
    """An argparse type: `parse` the text, then refuse what `accepted` does not hold."""

    def check(text: str) -> float:
        try:
            value = parse(text)
        except ValueError:
            value = float("nan")
        if value not in accepted:
            raise argparse.ArgumentTypeError(f"expected {accepted}, got {text!r}")
        return value

    return check


def add_api_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of every command that reads the API."""
    parser.add_argument(
        "--endpoint",
        help="ovh endpoint name (ovh-eu, ovh-ca, ...) or a base URL ending in /1.0",
    )
    parser.add_argument(
        "--workers",
        type=number_argument(int, WORKERS),
        help=f"concurrent API calls, {WORKERS.low:g} to {WORKERS.high:g} "
        f"(default {DEFAULT_WORKERS})",
    )
    parser.add_argument(
        "--max-rps",
        type=number_argument(float, MAX_RPS),
        help=f"ceiling of the adaptive pace, in API calls per second, {MAX_RPS.low:g} to "
        f"{MAX_RPS.high:g} (default {DEFAULT_MAX_RPS:g}; the pace starts at 10 and follows the "
        "API's 429s)",
    )
    parser.add_argument(
        "--listing",
        choices=LISTINGS,
        default=LISTINGS[0],
        help="per-vm (default): one GET per VM; paged: pages of full VM objects (unverified "
        "on the real API; falls back to per-vm for a datacenter whose pages do not match)",
    )
    parser.add_argument("--config", type=Path, help="TOML configuration file")


def period_arg(text: str | None) -> Period:
    """`--period` (YYYY-MM, current or previous; default current), today in UTC."""
    return parse_period(text, datetime.now(UTC).date())


def load_config_arg(args: argparse.Namespace) -> Config:
    return Config() if args.config is None else load_config(args.config)
