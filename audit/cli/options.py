"""The command-line options every command that reads the API shares, as argparse sees them.

A leaf below every stage: `run`, `snapshot` and `remediate` parse the same flags without
importing one another. Turning the parsed flags into collect's objects is collect's job
(audit/collect/options.py).
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit.config.settings import (
    DEADLINE_S,
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

CREDENTIALS_EPILOG = """\
credentials come the `ovh` way, first found wins:
  OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET, OVH_CONSUMER_KEY (and OVH_ENDPOINT)
  the file named by ovh_config in the --config file
  ovh.conf in the working folder, then ~/.ovh.conf, then /etc/ovh.conf
"""


class HelpFormatter(argparse.HelpFormatter):
    """Fills a one-paragraph text (a description) to the terminal's width, and keeps a text
    with line breaks (the credentials and exit-code epilogs) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


#: Every command can crash or be stopped by a signal: audit/cli/main.py turns either into
#: these codes.
UNEXPECTED = (
    "5",
    "an unexpected error: one line naming the cause and the file holding the traceback",
)
INTERRUPTED = ("130, 143", "interrupted by SIGINT or SIGTERM (nothing half-written)")


def exit_codes_epilog(*codes: tuple[str, str], interrupted: tuple[str, str] = INTERRUPTED) -> str:
    """The `exit codes:` block of a command's --help: the codes it has, and no other (the
    README's Commands table lists the same, tests/test_cli_contract.py compares them)."""
    rows = (*codes, UNEXPECTED, interrupted)
    width = max(len(code) for code, _ in rows)
    lines = ["exit codes:"]
    for code, text in rows:
        wrapped = textwrap.wrap(text, EPILOG_WIDTH - width - 4) or [""]
        lines.append(f"  {code:<{width}}  {wrapped[0]}")
        lines += [f"  {'':<{width}}  {more}" for more in wrapped[1:]]
    return "\n".join(lines) + "\n"


#: The exit-code tables are wrapped to this width (argparse fills the rest to the terminal).
EPILOG_WIDTH = 79

INPUT_ERROR = ("2", "usage, configuration, credential or input error (one line on stderr)")


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


# Where a command goes when --endpoint is not given (audit.collect.options.endpoint_from).
ENDPOINT_DEFAULT = (
    "default: endpoint in the --config file, else OVH_ENDPOINT, else [default] endpoint in "
    "ovh.conf, else ovh-eu"
)


def add_api_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of every command that reads the API."""
    parser.add_argument(
        "--endpoint",
        help="ovh endpoint name (ovh-eu, ovh-ca, ovh-us, ...) or a base URL ending in /1.0 "
        f"({ENDPOINT_DEFAULT})",
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
        "--deadline",
        type=number_argument(float, DEADLINE_S),
        metavar="SECONDS",
        help="give up reading the API after this long: what is unread then is recorded as "
        "such and the command exits 3 (default: 10 minutes plus a second per call the "
        "collection finds to make, or 1/--max-rps when that is slower)",
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
