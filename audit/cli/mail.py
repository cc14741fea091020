"""`ovh-license-audit mail RUN_DIR`: send (or send again) a run folder by mail."""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.options import HelpFormatter, exit_codes_epilog
from audit.config.mail import mailbox
from audit.config.settings import Config, load_config
from audit.deliver.delivery import deliver, mail_settings_for
from audit.support.crash import note_output_folder
from audit.support.errors import ExitCode


def address(text: str) -> str:
    """An argparse type for --to: one plain address per value."""
    try:
        mailbox(text, names=False)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, got {text!r}") from None
    return text


def mail_command(args: argparse.Namespace) -> int:
    note_output_folder(args.run_dir.parent)
    config = Config() if args.config is None else load_config(args.config)
    settings = mail_settings_for(config, "mail")
    print(deliver(args.run_dir, settings, tuple(args.to or ())))
    return int(ExitCode.OK)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "mail",
        help="mail a run folder's reports (send, or send again after a failure)",
        description="Mail the executive summary and the reports of RUN_DIR as configured in "
        "the [mail] section of the --config file.",
        epilog=exit_codes_epilog(
            ("0", "sent"),
            ("2", "usage, configuration or input error (a file changed since the run)"),
            ("4", "not delivered (one line on stderr with the server's answer)"),
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR", help="a run folder written by `run`"
    )
    parser.add_argument(
        "--to",
        action="extend",
        nargs="+",
        type=address,
        metavar="ADDR",
        help="send to these addresses instead of mail.to and mail.cc",
    )
    parser.add_argument("--config", type=Path, help="TOML configuration file with [mail]")
    parser.set_defaults(handler=mail_command)
