"""`ovh-license-audit mail RUN_DIR`: send (or send again) a run folder by mail, and the hook
`run --mail` calls once its run folder is in place."""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.config import Config, load_config
from audit.deliver.digest import digest_from_run_dir
from audit.deliver.message import build_message
from audit.deliver.smtp import send
from audit.errors import ExitCode, InputError
from audit.job import check_inputs
from audit.mail_config import MailSettings, is_address


def mail_settings_for(config: Config, option: str) -> MailSettings:
    """The [mail] section, checked as far as it can be without the server: called before a
    run reads the API, so a missing section or password costs nothing."""
    if config.mail is None:
        raise InputError(f"{option} needs a [mail] section in the --config file")
    config.mail.check_ready()
    return config.mail


def deliver(run_dir: Path, settings: MailSettings, to: tuple[str, ...] = ()) -> str:
    """Mail the run folder; returns the line that says where it went. The verdict is the
    run's own, against the `fail_on` it recorded in findings.json. Every file the manifest
    lists must be what the run wrote: an auditor receives what the API said, not an edit."""
    check_inputs(run_dir, set(), refused="not sent")
    digest = digest_from_run_dir(run_dir.resolve())
    message = build_message(settings, digest, to)
    send(settings, message)
    recipients = ", ".join(to or settings.to + settings.cc)
    return (
        f"mail: {digest.period} sent to {recipients} via {settings.host} ({message['Message-ID']})"
    )


def address(text: str) -> str:
    """An argparse type for --to."""
    if not is_address(text):
        raise argparse.ArgumentTypeError(f"expected a mail address, got {text!r}")
    return text


def mail_command(args: argparse.Namespace) -> int:
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
        epilog="exit codes:\n  0  sent\n  2  usage, configuration or input error\n"
        "  4  not delivered (one line on stderr with the server's answer)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
