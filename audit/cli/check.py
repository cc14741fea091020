"""`ovh-license-audit check`: every input a run reads, validated before the night it runs.

One line per item (the configuration file and each of its sections, the exceptions register,
the mail password's variable, the output folder, the endpoint and where each credential comes
from), `ok` or the one-line error the run would stop on. Credentials are located, never read
out. No API call unless `--online`, which adds what `auth check` shows, by running it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from audit.cli import auth
from audit.cli.options import DEFAULT_OUT, HelpFormatter, exit_codes_epilog
from audit.collect.api import check_ovh_config_file
from audit.collect.options import EndpointChoice, endpoint_choice
from audit.collect.sources import credential_sources, endpoint_url
from audit.config.invoice import DEFAULT_DAYS_AFTER
from audit.config.settings import Config, SectionCheck, check_config
from audit.evaluate.exceptions import load_exceptions
from audit.history.store import HISTORY_FILE
from audit.support.errors import AuditError, ExitCode

OK, ERROR, SKIPPED = "ok", "error", "skip"


@dataclass(frozen=True)
class Item:
    """One checked input: what it is, and what was found or the error."""

    name: str
    detail: str
    status: str = OK

    @property
    def line(self) -> str:
        return f"{self.status:<5}  {self.name}: {self.detail}"


def _checked(name: str, describe: Callable[[], str]) -> Item:
    """`describe` the item; the error it raises is the item's error line."""
    try:
        return Item(name, describe())
    except AuditError as exc:
        return Item(name, str(exc), ERROR)


def _section(config: Config, check: SectionCheck) -> Item:
    name = f"[{check.section}]"
    if check.error is not None:
        return Item(name, check.error, ERROR)
    if not check.present:
        return Item(name, _ABSENT[check.section])
    return Item(name, _DESCRIBE[check.section](config))


def _audit(config: Config) -> str:
    keys = {
        "endpoint": config.endpoint,
        "out": config.out,
        "exceptions": config.exceptions,
        "fail_on": config.fail_on,
        "workers": config.workers,
        "max_rps": config.max_rps,
        "ovh_config": config.ovh_config,
        "max_retries": config.max_retries,
        "retry_base_delay_s": config.retry_base_delay_s,
    }
    shown = ", ".join(f"{key} {value}" for key, value in keys.items() if value is not None)
    return shown or "no key set: built-in defaults"


def _remediation(config: Config) -> str:
    settings = config.remediation
    return (
        f"default edition {settings.default_edition}, {len(settings.editions)} per-version "
        f"edition(s), {len(settings.services)} per-service table(s)"
    )


def _mail(config: Config) -> str:
    mail = config.mail
    assert mail is not None
    return (
        f"{mail.host}:{mail.port} ({mail.security.value}), from {mail.sender}, "
        f"{len(mail.to)} to and {len(mail.cc)} cc address(es)"
    )


def _prices(config: Config) -> str:
    prices = config.prices
    assert prices is not None
    reference = prices.reference()
    return f"{len(prices.monthly)} licence price(s) in {prices.currency}" + (
        f"; reference licence of unlicensed guests: {reference!r}" if reference else ""
    )


def _invoice(config: Config) -> str:
    invoice = config.invoice
    return (
        f"bills up to {invoice.days_after} day(s) after the period; "
        f"{len(invoice.configured())} pattern(s) set, the others the built-in ones"
    )


def _report(config: Config) -> str:
    organisation = config.report.organisation
    return "no organisation named" if organisation is None else f"organisation {organisation!r}"


_DESCRIBE: dict[str, Callable[[Config], str]] = {
    "audit": _audit,
    "remediation": _remediation,
    "mail": _mail,
    "prices": _prices,
    "invoice": _invoice,
    "report": _report,
}
_ABSENT = {
    "report": "not in the file: the reports name no organisation",
    "audit": "not in the file: built-in defaults",
    "remediation": "not in the file: plans propose Standard editions",
    "mail": "not in the file: `run --mail` and `mail` need it",
    "prices": "not in the file: the reports show no amounts",
    "invoice": (
        f"not in the file: bills up to {DEFAULT_DAYS_AFTER} days after the period, "
        "built-in patterns"
    ),
}


def _config_items(args: argparse.Namespace) -> tuple[Config, list[Item]]:
    if args.config is None:
        return Config(), [Item("config", "none given (--config FILE): built-in defaults")]
    try:
        config, sections = check_config(args.config)
    except AuditError as exc:
        return Config(), [Item("config", str(exc), ERROR)]
    return config, [Item("config", str(args.config))] + [
        _section(config, check) for check in sections
    ]


def _mail_items(config: Config) -> list[Item]:
    """The password's variable (named, never read out) and the CA file, as `run --mail`
    checks them before its first API call."""
    mail = config.mail
    if mail is None:
        return []

    def password() -> str:
        if mail.username is None:
            return "no login (mail.username not set)"
        mail.password()  # raises when the variable is not set; the value is dropped
        return f"in {mail.password_env}, which is set"

    def ca_file() -> str:
        mail.check_ready()
        return str(mail.ca_file)

    items = [_checked("[mail] password", password)]
    if mail.ca_file is not None:
        items.append(_checked("[mail] ca_file", ca_file))
    return items


def _exceptions_item(args: argparse.Namespace, config: Config) -> Item:
    path: Path | None = args.exceptions or config.exceptions
    if path is None:
        return Item("exceptions", "none (no --exceptions, no audit.exceptions)")
    return _checked("exceptions", lambda: f"{path}: {len(load_exceptions(path))} row(s)")


def _out_item(config: Config) -> Item:
    """The folder the run writes and whose history.sqlite (observations, past runs) it reads."""
    out = config.out or DEFAULT_OUT
    name = f"out {out}"
    if out.exists() and not out.is_dir():
        return Item(name, "exists and is not a folder", ERROR)
    existing = next(folder for folder in (out, *out.absolute().parents) if folder.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        return Item(name, f"{existing}: not writable by this user", ERROR)
    if (out / HISTORY_FILE).is_file():
        return Item(name, f"{HISTORY_FILE} present (past runs and daily observations)")
    return Item(name, f"no {HISTORY_FILE} yet: the first `observe` or `run` creates it")


def _endpoint_items(args: argparse.Namespace, config: Config) -> list[Item]:
    """The endpoint and, for it, where each credential comes from (never its value)."""
    items = []
    if config.ovh_config is not None:
        ovh_config = config.ovh_config

        def exists() -> str:
            check_ovh_config_file(ovh_config)
            return "found"

        items.append(_checked(f"ovh_config {ovh_config}", exists))
    try:
        chosen: EndpointChoice = endpoint_choice(args, config)
    except AuditError as exc:
        return [*items, Item("endpoint", str(exc), ERROR)]
    url = endpoint_url(chosen.endpoint)
    shown = chosen.endpoint if url == chosen.endpoint else f"{chosen.endpoint} ({url})"
    items.append(Item("endpoint", f"{shown}, from {chosen.source}"))
    try:
        found = credential_sources(chosen.endpoint, config.ovh_config)
    except AuditError as exc:
        return [*items, Item("credentials", str(exc), ERROR)]
    for source in found:
        if source.where is None:
            missing = (
                f"not found: set {source.variable}, or {source.name} in the "
                f"[{chosen.endpoint}] section of an ovh.conf"
            )
            items.append(Item(source.name, missing, ERROR))
        elif source.empty:
            items.append(Item(source.name, f"{source.where}: set but empty", ERROR))
        else:
            items.append(Item(source.name, f"found in {source.where}"))
    return items


def _online_item(args: argparse.Namespace, offline: list[Item]) -> tuple[Item, list[str]]:
    """`auth check`, run as it is (its lines come back indented under the item)."""
    name = "online"
    if any(item.status == ERROR for item in offline):
        return Item(name, "not tried: fix the errors above first", SKIPPED), []
    shown = io.StringIO()
    try:
        with contextlib.redirect_stdout(shown):
            auth.run_check(args)
    except AuditError as exc:
        return Item(name, str(exc), ERROR), []
    lines = [f"{'':7}{line}" for line in shown.getvalue().splitlines()]
    return Item(name, "the API accepts the key (auth check):"), lines


def check_command(args: argparse.Namespace) -> int:
    config, items = _config_items(args)
    items += _mail_items(config)
    items.append(_exceptions_item(args, config))
    items.append(_out_item(config))
    items += _endpoint_items(args, config)
    for item in items:
        print(item.line)
    if args.online:
        online, details = _online_item(args, items)
        items.append(online)
        print(online.line)
        for line in details:
            print(line)
    failed = sum(item.status == ERROR for item in items)
    if failed:
        print(f"check: {failed} of {len(items)} item(s) in error")
        return int(ExitCode.INPUT)
    print(f"check: every item ok ({len(items)})" + ("" if args.online else "; no API call made"))
    return int(ExitCode.OK)


EPILOG = exit_codes_epilog(
    ("0", "every item is ok"),
    ("2", "at least one item is in error (its line says which and why), or a usage error"),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check every input a run reads (config, register, mail, credentials, endpoint)",
        description=(
            "Read and validate every input a run reads, one line per item: the --config file "
            "and each of its sections, the exceptions register, the mail password's variable, "
            "the output folder, the endpoint and where each credential comes from (OVH_* "
            "variables or which ovh.conf file and section; never the values). No API call "
            "unless --online."
        ),
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--endpoint",
        metavar="NAME|URL",
        help="ovh endpoint name (ovh-eu, ovh-ca, ...) or a base URL ending in /1.0",
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML configuration file")
    parser.add_argument(
        "--exceptions",
        type=Path,
        metavar="FILE",
        help="exceptions register (CSV; default: audit.exceptions)",
    )
    parser.add_argument(
        "--online",
        action="store_true",
        help="also ask the API what the key may do, as `auth check` does",
    )
    parser.set_defaults(handler=check_command)
