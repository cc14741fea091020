"""`remediate.py`'s command line; `ovh-license-audit remediate` shares its options."""

from __future__ import annotations

import argparse
import hashlib
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from audit.runtime.exits import ExitCode, UsageError
from audit.runtime.ovhapi import import_ovh, register_endpoint
from audit.runtime.plan import Plan, PlanError, read_plan
from audit.runtime.results import rollback_from_results
from audit.runtime.runner import (
    DEFAULT_TASK_TIMEOUT_S,
    ApplyOptions,
    RunStopped,
    remediate,
)


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive_float(text: str) -> float:
    """A number of seconds: positive and finite (`nan` and `inf` are not "never")."""
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _sha256(text: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise argparse.ArgumentTypeError(f"expected a sha256 (64 hexadecimal digits), got {text!r}")
    return text.lower()


def add_apply_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by `ovh-license-audit remediate` and `remediate.py`."""
    parser.add_argument("--apply", action="store_true", help="make the changes (default: dry run)")
    parser.add_argument(
        "--max-changes",
        type=_non_negative_int,
        metavar="N",
        help="send at most N licence changes (default: no cap)",
    )
    parser.add_argument(
        "--endpoint",
        metavar="NAME|URL",
        help="ovh endpoint name (ovh-eu, ...) or a base URL ending in /1.0 "
        "(default: OVH_ENDPOINT or ovh.conf)",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="where to write the results CSV and the rollback plan (default: .)",
    )
    parser.add_argument(
        "--task-timeout",
        type=_positive_float,
        default=DEFAULT_TASK_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long to wait for each licence task (default {DEFAULT_TASK_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--expect-sha256",
        type=_sha256,
        metavar="SHA256",
        help="the plan's sha256 as approved (the run prints it): any other plan is refused "
        "before anything is done",
    )


def options_from_args(args: argparse.Namespace) -> ApplyOptions:
    return ApplyOptions(
        apply=args.apply, max_changes=args.max_changes, task_timeout_s=args.task_timeout
    )


def check_digest(data: bytes, expected: str | None, source: str) -> None:
    """With --expect-sha256, the plan must be the one approved, byte for byte."""
    digest = hashlib.sha256(data).hexdigest()
    if expected is not None and digest != expected:
        raise PlanError(
            f"{source}: sha256 {digest} is not the approved {expected} (--expect-sha256): "
            "the plan changed; nothing done"
        )


def make_client(endpoint: str | None) -> Any:
    """An `ovh.Client` with credentials from OVH_* variables or ovh.conf."""
    ovh = import_ovh()
    # OVH_ENDPOINT or ovh.conf may name a URL (the simulator, a proxy): registered like --endpoint.
    chosen = endpoint or ovh.config.ConfigurationManager().get("default", "endpoint")
    try:
        name = None if chosen is None else register_endpoint(chosen)
        client = ovh.Client(endpoint=name, timeout=(10, 60))
    except ovh.exceptions.InvalidRegion:
        raise UsageError("no endpoint: give --endpoint or set OVH_ENDPOINT") from None
    except ovh.exceptions.InvalidConfiguration as exc:
        raise UsageError(f"credentials: {exc}") from None
    if not client._consumer_key:
        raise UsageError("credentials: no consumer key (set OVH_CONSUMER_KEY or ovh.conf)")
    return client


SCRIPT_EPILOG = """\
credentials: OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET, OVH_CONSUMER_KEY (and
OVH_ENDPOINT), or ovh.conf (working folder, ~/.ovh.conf, /etc/ovh.conf)

exit codes:
  0  every attempted action succeeded (skipped, capped and manual ones are no failure)
  1  an action failed, or its task had not ended within --task-timeout
  2  bad plan or results file (a dry run's results have nothing to roll back), usage,
     credentials, a key without the rights, an unreachable endpoint, or a run stopped
     by SIGINT or SIGTERM (the results file says what was done)
"""


def build_parser() -> argparse.ArgumentParser:
    """`remediate.py`'s options: those of `ovh-license-audit remediate` but --config (the
    script reads no configuration file), plus --plan."""
    parser = argparse.ArgumentParser(
        prog="remediate.py",
        description="Apply an ovh-license-audit remediation plan (dry run unless --apply).",
        epilog=SCRIPT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--plan", type=Path, help="a plan file instead of the embedded plan")
    source.add_argument(
        "--rollback", type=Path, metavar="RESULTS", help="undo the changes of a results CSV"
    )
    add_apply_arguments(parser)
    return parser


def main(argv: Sequence[str] | None, embedded_plan: str) -> int:
    """`remediate.py`: the embedded plan unless --plan or --rollback names another."""
    args = build_parser().parse_args(argv)
    try:
        if args.rollback is not None:
            if args.expect_sha256 is not None:
                raise UsageError("--expect-sha256 checks a plan, not --rollback RESULTS")
            plan = rollback_from_results(args.rollback)
        elif args.plan is not None:
            plan = read_plan(args.plan)
            check_digest(args.plan.read_bytes(), args.expect_sha256, str(args.plan))
        else:
            plan = Plan.from_text(embedded_plan, "embedded plan")
            check_digest(plan.to_text().encode("ascii"), args.expect_sha256, "embedded plan")
        client = make_client(args.endpoint)
        report = remediate(client, plan, options_from_args(args), args.results_dir)
    except (PlanError, UsageError, RunStopped) as exc:
        print(f"remediate.py: error: {exc}", file=sys.stderr)
        return ExitCode.INPUT
    except KeyboardInterrupt:
        print("remediate.py: interrupted (the results file records what was done)", file=sys.stderr)
        return ExitCode.INPUT
    return report.exit_code
