"""`ovh-license-audit rollup DIR --period P`: the roll-up from account folders written elsewhere.

Each account may be its own scheduled job (`run --out DIR/<name>`); this writes
`DIR/rollup/<period>/` from their folders, byte for byte what `run --accounts` wrote when
the folders are the same.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.accounts import mail_rollup, print_rollup
from audit.cli.options import (
    INPUT_ERROR,
    HelpFormatter,
    exit_codes_epilog,
    load_config_arg,
    period_arg,
)
from audit.config.accounts import load_accounts
from audit.deliver.delivery import mail_settings_for
from audit.rollup.write import rebuild_rollup
from audit.support.console import stdout_may_close


def rollup_command(args: argparse.Namespace) -> int:
    names = None if args.accounts is None else [a.name for a in load_accounts(args.accounts)]
    if args.mail:
        mail_settings_for(load_config_arg(args), "--mail")
    rollup, folder = rebuild_rollup(args.out_dir, period_arg(args.period).label, names)
    with stdout_may_close():
        print_rollup(rollup, folder)
    return mail_rollup(rollup, folder, args, rollup.exit_code)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "rollup",
        help="roll several accounts' runs of a period up into DIR/rollup/<period>/",
        description="Write the roll-up of DIR/<name>/<period>/ for every account folder of "
        "DIR (or every account of --accounts) into DIR/rollup/<period>/.",
        epilog=exit_codes_epilog(
            ("0", "every account rolled up, none with an open finding at or above its fail-on"),
            ("1", "an account has such a finding"),
            INPUT_ERROR,
            ("3", "an account's collection was incomplete"),
            ("4", "the roll-up is written but its mail could not be delivered"),
        )
        + "\nThe exit code is the worst of the accounts' (0, 1, 3, 4, 2 from mildest to worst).\n",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "out_dir", type=Path, metavar="DIR", help="the output folder holding one folder per account"
    )
    parser.add_argument(
        "--period", help="YYYY-MM, current or previous (UTC months; default: current)"
    )
    parser.add_argument(
        "--accounts",
        type=Path,
        metavar="ACCOUNTS.toml",
        help="the accounts expected (a missing one is a failed row); default: the account "
        "folders of DIR, or those `run --accounts` recorded",
    )
    parser.add_argument("--mail", action="store_true", help="mail the roll-up ([mail] in --config)")
    parser.add_argument("--config", type=Path, help="TOML configuration file with [mail]")
    parser.set_defaults(handler=rollup_command)
