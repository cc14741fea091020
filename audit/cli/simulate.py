"""`ovh-license-audit simulate`: serve a fleet file or a generated fleet until stopped."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from audit.cli.options import HelpFormatter, exit_codes_epilog
from audit.simulator.api import SimulatorConfig
from audit.simulator.billing import BillingOptions
from audit.simulator.fleet import Fleet, load_fleet
from audit.simulator.generate import generate_fleet
from audit.simulator.server import Simulator
from audit.support.errors import InputError

DEFAULT_PORT = 8080


def _bounded(
    parse: type[int] | type[float], low: float, high: float, what: str
) -> Callable[[str], float]:
    """An argparse type that parses a number and checks its range, with a readable error."""

    def check(text: str) -> float:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return check


_positive_int = _bounded(int, 1, math.inf, "an integer >= 1")
_port = _bounded(int, 0, 65535, "a port number (0-65535)")
_non_negative = _bounded(float, 0, math.inf, "a number >= 0")
_positive = _bounded(float, sys.float_info.min, math.inf, "a number > 0")
_fraction = _bounded(float, 0, 1, "a number between 0 and 1")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `simulate`, with the options docs/DESIGN.md lists (the bill ones from its invoice
    reconciliation)."""
    parser = subparsers.add_parser(
        "simulate",
        help="serve a simulated OVHcloud API (dedicatedCloud and bill routes)",
        description=(
            "Serve a faithful OVHcloud API v1 for the dedicatedCloud and /me/bill routes at "
            "http://HOST:PORT/1.0, with the documented simulator credentials "
            "(sim-app-key / sim-app-secret; sim-ck-readonly, sim-ck-remediate, or "
            "sim-ck-billing, which may also read the bills)."
        ),
        epilog=exit_codes_epilog(
            ("0", "stopped by SIGINT or SIGTERM once listening"),
            ("2", "usage error, a bad fleet file, or an address it cannot listen on"),
            interrupted=("130, 143", "interrupted by SIGINT or SIGTERM before it listens"),
        ),
        formatter_class=HelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--fleet", type=Path, metavar="FILE", help="fleet file to serve")
    source.add_argument(
        "--generate", type=_positive_int, metavar="N", help="serve a generated fleet of N VMs"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the generated fleet and of --fault-rate"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        metavar="P",
        help=f"port to listen on; 0 picks a free one (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--latency-ms", type=_non_negative, default=0.0, metavar="MS", help="added to each response"
    )
    parser.add_argument(
        "--rate-limit",
        type=_positive,
        default=None,
        metavar="RPS",
        help="requests per second per consumer key; beyond it 429 with Retry-After",
    )
    parser.add_argument(
        "--fault-rate",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="fraction of authenticated requests answered 500 or 503",
    )
    bills = parser.add_argument_group(
        "bills", "one bill per month, a licence line per service and licence value"
    )
    bills.add_argument(
        "--bill-extra-licence",
        action="store_true",
        help="invoice one licence too many (on the first licence line)",
    )
    bills.add_argument(
        "--bill-missing-licence",
        action="store_true",
        help="invoice one licence too few (on the last licence line)",
    )
    bills.add_argument(
        "--bill-unrelated-lines",
        action="store_true",
        help="add lines of other products and other domains to every bill",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; the one stdout line tells scripts where to connect."""
    fleet: Fleet = (
        load_fleet(args.fleet) if args.fleet else generate_fleet(args.generate, args.seed).fleet
    )
    config = SimulatorConfig(
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        rate_limit=args.rate_limit,
        fault_rate=args.fault_rate,
        seed=args.seed,
        billing=BillingOptions(
            extra_licence=args.bill_extra_licence,
            missing_licence=args.bill_missing_licence,
            unrelated_lines=args.bill_unrelated_lines,
        ),
    )
    simulator = Simulator(fleet, config)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            simulator.start()
        except OSError as exc:
            raise InputError(
                f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
            ) from exc
        print(f"listening on {simulator.url}", flush=True)
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        simulator.stop()
    return 0
