"""The `[mail]` section of the configuration file: where and how the monthly mail goes.

A password never sits in the file: `password_env` names the environment variable that holds
it, read only when the mail is sent (and checked before a run collects anything).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from audit.config.values import Range, bounded, expect
from audit.support.errors import InputError
from audit.support.redact import register_secret

DEFAULT_ATTACH = ("report.xlsx", "report.html")
DEFAULT_MAX_ATTACHMENT_MB = 10.0
DEFAULT_TIMEOUT_S = 30.0
# Attachments are base64-encoded in memory (about seven times their size at the peak, with
# smtplib's copies): 25 MB, what most mail servers accept, bounds that.
MAX_ATTACHMENT_MB = Range(0, 25)
TIMEOUT_S = Range(0.1, 600)
PORTS = Range(1, 65535)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONVENTIONAL_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")


class Security(StrEnum):
    """How the connection is protected: STARTTLS after connecting, TLS from the first byte
    (SMTPS), or nothing (a relay on the same host)."""

    STARTTLS = "starttls"
    SSL = "ssl"
    NONE = "none"

    @property
    def default_port(self) -> int:
        return {"starttls": 587, "ssl": 465, "none": 25}[self.value]


_KEYS = {
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "from",
    "to",
    "cc",
    "attach",
    "max_attachment_mb",
    "ca_file",
    "timeout_s",
}


@dataclass(frozen=True)
class MailSettings:
    """A validated `[mail]` section; `source` is the file it came from (for messages)."""

    host: str
    sender: str
    to: tuple[str, ...]
    port: int = Security.STARTTLS.default_port
    security: Security = Security.STARTTLS
    cc: tuple[str, ...] = ()
    username: str | None = None
    password_env: str | None = None
    attach: tuple[str, ...] = DEFAULT_ATTACH
    max_attachment_mb: float = DEFAULT_MAX_ATTACHMENT_MB
    ca_file: Path | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    source: Path | None = None

    def password(self) -> str | None:
        """The password from the environment; a login without one is a configuration error."""
        if self.username is None:
            return None
        where = f"{self.source}: " if self.source is not None else ""
        if self.password_env is None:
            raise InputError(f"{where}mail.password_env: required when mail.username is set")
        value = os.environ.get(self.password_env)
        if not value:
            # A name in the usual style is shown; another may be a password pasted here.
            named = (
                self.password_env
                if _CONVENTIONAL_ENV_NAME.fullmatch(self.password_env)
                else "it names (not shown: it does not look like a variable name)"
            )
            raise InputError(
                f"{where}mail.password_env: the environment variable {named} is not set"
            )
        register_secret(value, self.username)
        return value

    def check_ready(self) -> None:
        """What can be checked before a run: the password and the CA file are there (the
        server is not asked)."""
        self.password()
        if self.ca_file is not None and not self.ca_file.is_file():
            where = f"{self.source}: " if self.source is not None else ""
            raise InputError(f"{where}mail.ca_file: {self.ca_file}: no such file")


# One plain address, as SMTP sends it: a dot-atom local part (no quotes, no comments) and a
# host name. Everything else (display-name tricks, comma lists, group syntax, `;`, line
# breaks of any kind) is refused: the address checked is the address the mail goes to.
_ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")
_NAMED = re.compile(r"(?P<name>[^<>]*?) *<(?P<address>[^<>]*)>")
# What a display name may not hold: RFC 5322 specials, which would make it more than a name.
_NAME_SPECIALS = frozenset('"<>,;:@\\()[]')
MAX_ADDRESS = 254


def is_address(text: str) -> bool:
    """One plain address (`name@example.com`), nothing around it."""
    return len(text) <= MAX_ADDRESS and _PLAIN.fullmatch(text) is not None


def mailbox(text: str, names: bool) -> tuple[str, str]:
    """(display name, address) of one mailbox: a plain address, or, when `names` (the
    configuration file), `Display Name <address>` with a name of plain printable text.
    ValueError says what is wrong."""
    if is_address(text):
        return "", text
    named = _NAMED.fullmatch(text)
    if named is None or not is_address(named["address"]):
        raise ValueError("expected one plain mail address such as name@example.com")
    if not names:
        raise ValueError(
            "expected a plain mail address such as name@example.com (display names come "
            "from the configuration file only)"
        )
    name = named["name"].strip(" ")
    if not name or any(not char.isprintable() or char in _NAME_SPECIALS for char in name):
        raise ValueError(
            "expected `Display Name <name@example.com>` with a name of letters, digits and "
            "spaces (no quotes, commas, semicolons, colons, <>, @, () or [])"
        )
    return name, named["address"]


def address_of(entry: str) -> str:
    """The address of a validated entry (`mailbox` accepted it), for the SMTP envelope."""
    return mailbox(entry, names=True)[1]


def _address(path: Path, key: str, value: Any) -> str:
    text: str = expect(path, key, value, str)
    try:
        mailbox(text, names=True)
    except ValueError as exc:
        raise InputError(f"{path}: {key}: {exc}, got {text!r}") from None
    return text


def _addresses(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    items = expect(path, key, value, list)
    return tuple(_address(path, f"{key}[{index}]", item) for index, item in enumerate(items))


# A host name or an IP address: nothing that could end a line of a message or of the SMTP
# conversation.
_HOST = re.compile(r"[A-Za-z0-9_.:-]+|\[[0-9A-Fa-f:.]+\]")


def _host(path: Path, value: Any) -> str:
    host: str = expect(path, "mail.host", value, str)
    if len(host) > 253 or not _HOST.fullmatch(host):
        raise InputError(f"{path}: mail.host: expected a host name or an IP address, got {host!r}")
    return host


def _password_env(path: Path, value: Any) -> str | None:
    """The variable's name; a value that cannot be one is never echoed: it may be the
    password itself, pasted into the wrong key."""
    if value is None:
        return None
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise InputError(
            f"{path}: mail.password_env: expected the name of an environment variable "
            "(letters, digits and _), not the password itself (the value is not shown)"
        )
    return value


def _attachment(path: Path, key: str, value: Any) -> str:
    """A file of the run folder, by its path inside it: nothing outside can be mailed."""
    name: str = expect(path, key, value, str)
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or ".." in parts or "\\" in name:
        raise InputError(f"{path}: {key}: expected a file inside the run folder, got {name!r}")
    return name


def mail_settings(path: Path, section: Any) -> MailSettings:
    """Parse and validate `[mail]`; every problem names the file and the key."""
    mail = expect(path, "[mail]", section, dict)
    if "password" in mail:
        raise InputError(
            f"{path}: mail.password: a password never sits in the file; name the environment "
            "variable that holds it in mail.password_env"
        )
    unknown = set(mail) - _KEYS
    if unknown:
        raise InputError(f"{path}: [mail]: unknown key {sorted(unknown)[0]!r}")
    for required in ("host", "from", "to"):
        if required not in mail:
            raise InputError(f"{path}: [mail]: missing key {required!r}")
    try:
        security = Security(expect(path, "mail.security", mail.get("security", "starttls"), str))
    except ValueError:
        choices = ", ".join(item.value for item in Security)
        raise InputError(f"{path}: mail.security: expected one of {choices}") from None
    port = bounded(path, "mail.port", mail.get("port", security.default_port), int, PORTS)
    username = mail.get("username")
    if username is not None:
        username = expect(path, "mail.username", username, str)
        if security is Security.NONE:
            raise InputError(
                f'{path}: mail.username: a login with security = "none" would send the '
                "password in clear; use starttls or ssl"
            )
        if "password_env" not in mail:
            raise InputError(f"{path}: mail.password_env: required when mail.username is set")
    password_env = _password_env(path, mail.get("password_env"))
    to = _addresses(path, "mail.to", mail["to"])
    if not to:
        raise InputError(f"{path}: mail.to: expected at least one address")
    ca_file = mail.get("ca_file")
    max_mb = mail.get("max_attachment_mb", DEFAULT_MAX_ATTACHMENT_MB)
    timeout_s = mail.get("timeout_s", DEFAULT_TIMEOUT_S)
    attach = expect(path, "mail.attach", mail.get("attach", list(DEFAULT_ATTACH)), list)
    return MailSettings(
        host=_host(path, mail["host"]),
        port=port,
        security=security,
        sender=_address(path, "mail.from", mail["from"]),
        to=to,
        cc=_addresses(path, "mail.cc", mail.get("cc", [])),
        username=username,
        password_env=password_env,
        attach=tuple(
            _attachment(path, f"mail.attach[{index}]", name) for index, name in enumerate(attach)
        ),
        max_attachment_mb=float(
            bounded(path, "mail.max_attachment_mb", max_mb, (int, float), MAX_ATTACHMENT_MB)
        ),
        ca_file=None
        if ca_file is None
        else path.parent / expect(path, "mail.ca_file", ca_file, str),
        timeout_s=float(bounded(path, "mail.timeout_s", timeout_s, (int, float), TIMEOUT_S)),
        source=path,
    )
