"""`run --accounts ACCOUNTS.toml`: every account in its own process, then the roll-up.

A helper of the `run` command (audit/cli/run.py hands it the parsed flags): the per-account
options are refused here, the shared ones passed on to each account's `run`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from audit.cli.options import DEFAULT_OUT, load_config_arg, number_argument, period_arg
from audit.config.accounts import load_accounts
from audit.config.values import Range
from audit.deliver.delivery import mail_settings_for
from audit.deliver.smtp import DeliveryError
from audit.model.rollup import Rollup, worst_exit_code
from audit.rollup.launch import ChildOptions, Launcher
from audit.rollup.mail import deliver_rollup
from audit.rollup.write import write_rollup
from audit.support.console import stdout_may_close
from audit.support.errors import InputError

PARALLEL = Range(1, 32)
# Set per account in ACCOUNTS.toml (or its config), so refused beside --accounts.
_PER_ACCOUNT = (("endpoint", "--endpoint"), ("exceptions", "--exceptions"))


def passed_on(args: argparse.Namespace) -> tuple[str, ...]:
    """The flags every account's `run` receives as given here."""
    flags: list[str] = []
    for name, flag in (
        ("fail_on", "--fail-on"),
        ("workers", "--workers"),
        ("max_rps", "--max-rps"),
    ):
        value = getattr(args, name)
        if value is not None:
            flags += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    flags += ["--listing", args.listing]
    for name, flag in (
        ("allow_bypass", "--allow-bypass"),
        ("replace_incomplete", "--replace-incomplete"),
    ):
        if getattr(args, name):
            flags.append(flag)
    return tuple(flags)


def print_rollup(rollup: Rollup, folder: Path) -> None:
    print(f"roll-up {rollup.period}: {len(rollup.accounts)} account(s)")
    width = max(len(entry.name) for entry in rollup.accounts)
    for entry in rollup.accounts:
        said = entry.reason if not entry.rolled_up else entry.verdict
        print(f"  {entry.name:<{width}}  {entry.status.value:<10} exit {entry.exit_code}  {said}")
    print(f"roll-up folder: {folder}")
    for name in ("report.html", "report.xlsx", "findings.json", "findings.csv"):
        print(f"  {folder / name}")


def mail_rollup(rollup: Rollup, folder: Path, args: argparse.Namespace, code: int) -> int:
    """Mail the roll-up when asked; an undelivered mail is exit 4 unless worse happened."""
    if not args.mail:
        return code
    settings = mail_settings_for(load_config_arg(args), "--mail")
    try:
        sent = deliver_rollup(folder, rollup, settings)
    except DeliveryError as exc:
        print(f"ovh-license-audit: error: {exc}", file=sys.stderr)
        return worst_exit_code((code, int(exc.exit_code)))
    with stdout_may_close():
        print(sent)
    return code


def run_accounts_command(args: argparse.Namespace) -> int:
    for name, flag in _PER_ACCOUNT:
        if getattr(args, name) is not None:
            raise InputError(f"{flag} is set per account in {args.accounts}, not with --accounts")
    if args.from_snapshot is not None:
        raise InputError("--from-snapshot reads one account's snapshot: not with --accounts")
    accounts = load_accounts(args.accounts)
    config = load_config_arg(args)
    if args.mail:  # checked before any account runs: a missing [mail] costs nothing
        mail_settings_for(config, "--mail")
    period = period_arg(args.period).label
    out = args.out or config.out or DEFAULT_OUT
    launcher = Launcher(out, ChildOptions(period, passed_on(args)), os.environ, args.parallel)
    outcomes = launcher.run(accounts)
    rollup, folder = write_rollup(out, period, outcomes)
    with stdout_may_close():
        print_rollup(rollup, folder)
    return mail_rollup(rollup, folder, args, rollup.exit_code)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--accounts` and `--parallel` on the `run` parser."""
    parser.add_argument(
        "--accounts",
        type=Path,
        metavar="ACCOUNTS.toml",
        help="run every [[account]] of this file into OUT/<name>/, each in its own process, "
        "then write the roll-up OUT/rollup/<period>/",
    )
    parser.add_argument(
        "--parallel",
        type=number_argument(int, PARALLEL),
        default=1,
        metavar="N",
        help=f"with --accounts: accounts run at once, {PARALLEL.low:g} to {PARALLEL.high:g} "
        "(default 1)",
    )
