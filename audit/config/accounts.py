"""ACCOUNTS.toml: the OVHcloud accounts `run --accounts` audits, one `[[account]]` table each.

Each account names where its credentials are (`env_prefix`, or `ovh_config` and `section`),
never the credentials themselves, so the file can sit in version control. A malformed file is
one line naming the file, the line and the key; credentials are only read when an account is
run (`account_credentials`), so one account's missing variable fails that account alone.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.support.errors import InputError

# The roll-up's own folder beside the account folders: no account may take its name.
ROLLUP_FOLDER = "rollup"
# Lowercase only: two names that differ by case would share a folder on macOS and Windows.
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}", re.ASCII)
_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_KEYS = ("name", "endpoint", "env_prefix", "ovh_config", "section", "exceptions", "config")
_TABLE = re.compile(r"\s*\[\[\s*account\s*\]\]")
_HEADER = re.compile(r"\s*\[")

# The `ovh` client's variables, which a child process receives for its own account only.
CREDENTIAL_VARIABLES = ("OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY")
_OVH_CONF_KEYS = ("application_key", "application_secret", "consumer_key")


@dataclass(frozen=True)
class Account:
    """One `[[account]]`: where its run goes (`DIR/<name>/`) and where its keys are."""

    name: str
    endpoint: str
    env_prefix: str | None = None
    ovh_config: Path | None = None
    section: str | None = None
    exceptions: Path | None = None
    config: Path | None = None


class CredentialsMissing(Exception):
    """An account's credentials cannot be read: that account fails, the others run."""


def _assigns(line: str, key: str) -> bool:
    """Whether a TOML line sets `key` (bare or quoted)."""
    name = re.escape(key)
    return re.match(rf"\s*(?:{name}|\"{name}\")\s*=", line) is not None


def _key_line(text: str, index: int, key: str | None) -> int:
    """The line of `key` in the `index`-th `[[account]]` table (its header line when the key
    is absent or not found; 1 when the file does not use `[[account]]` headers)."""
    tables = -1
    header = 1
    for number, line in enumerate(text.splitlines(), 1):
        if _TABLE.match(line):
            tables += 1
            if tables == index:
                header = number
            continue
        if tables == index and _HEADER.match(line):
            break
        if tables == index and key is not None and _assigns(line, key):
            return number
    return header


def load_accounts(path: Path) -> tuple[Account, ...]:
    """Parse and check the file; any problem is an InputError naming file, line and key."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise InputError(f"{path}: cannot read accounts file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text: {exc.reason}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from None
    unknown = sorted(set(data) - {"account"})
    if unknown:
        raise InputError(f"{path}: line 1: unknown key {unknown[0]!r} (expected [[account]])")
    tables = data.get("account")
    if not isinstance(tables, list) or not tables:
        raise InputError(f"{path}: line 1: account: expected one [[account]] table per account")
    accounts: list[Account] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(tables):
        account = _account(path, text, index, table)
        if account.name in seen:
            raise InputError(
                f"{path}: line {_key_line(text, index, 'name')}: account[{index + 1}].name: "
                f"{account.name!r} is already account[{seen[account.name] + 1}]'s name"
            )
        seen[account.name] = index
        accounts.append(account)
    return tuple(accounts)


def _account(path: Path, text: str, index: int, table: Any) -> Account:
    where = f"account[{index + 1}]"

    def fail(key: str | None, message: str) -> InputError:
        named = where if key is None else f"{where}.{key}"
        return InputError(f"{path}: line {_key_line(text, index, key)}: {named}: {message}")

    if not isinstance(table, dict):
        raise fail(None, "expected a table")
    for key in table:
        if key not in _KEYS:
            raise fail(key, f"unknown key (expected {', '.join(_KEYS)})")

    def text_value(key: str, required: bool = False) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                raise fail(None, f"missing key {key!r}")
            return None
        if not isinstance(value, str) or not value.strip():
            raise fail(key, f"expected a non-empty string, got {value!r}")
        return value

    def file_value(key: str) -> Path | None:
        value = text_value(key)
        if value is None:
            return None
        named = path.parent / value
        if not named.is_file():
            raise fail(key, f"file not found: {named}")
        return named

    name = text_value("name", required=True)
    assert name is not None
    if not SLUG.fullmatch(name):
        raise fail(
            "name",
            f"{name!r} is not a path-safe name (lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit, at most 63 characters)",
        )
    if name == ROLLUP_FOLDER:
        raise fail("name", f"{name!r} is the roll-up's own folder; choose another name")
    endpoint = text_value("endpoint", required=True)
    assert endpoint is not None
    prefix = table.get("env_prefix")
    if prefix is not None and (not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix)):
        raise fail(
            "env_prefix", f"{prefix!r} is not the start of a variable name (letters, digits, _)"
        )
    ovh_config = file_value("ovh_config")
    section = text_value("section")
    if prefix is not None and (ovh_config is not None or section is not None):
        raise fail("env_prefix", "give either env_prefix or ovh_config and section, not both")
    if prefix is None and (ovh_config is None or section is None):
        missing = "section" if ovh_config is not None else "ovh_config"
        if ovh_config is None and section is None:
            raise fail(None, "missing credentials: env_prefix, or ovh_config and section")
        raise fail(None, f"missing key {missing!r} (ovh_config and section go together)")
    return Account(
        name=name,
        endpoint=endpoint,
        env_prefix=prefix,
        ovh_config=ovh_config,
        section=section,
        exceptions=file_value("exceptions"),
        config=file_value("config"),
    )


def account_credentials(account: Account, environ: Mapping[str, str]) -> dict[str, str]:
    """The account's keys as the plain OVH_* variables its process receives.

    From `<env_prefix>OVH_*` in `environ`, or from `section` of its ovh.conf. A missing value
    raises CredentialsMissing naming the variable or the file and key, never a value.
    """
    if account.env_prefix is not None:
        found = {}
        for variable in CREDENTIAL_VARIABLES:
            value = environ.get(account.env_prefix + variable)
            if not value:
                raise CredentialsMissing(f"{account.env_prefix}{variable} is not set")
            found[variable] = value
        return found
    assert account.ovh_config is not None and account.section is not None
    parser = configparser.RawConfigParser()
    try:
        with account.ovh_config.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else type(exc).__name__
        raise CredentialsMissing(f"{account.ovh_config}: cannot read: {reason}") from None
    if not parser.has_section(account.section):
        raise CredentialsMissing(f"{account.ovh_config}: no section [{account.section}]")
    found = {}
    for key, variable in zip(_OVH_CONF_KEYS, CREDENTIAL_VARIABLES, strict=True):
        value = parser.get(account.section, key, fallback="").strip()
        if not value:
            raise CredentialsMissing(f"{account.ovh_config}: [{account.section}] has no {key}")
        found[variable] = value
    return found
