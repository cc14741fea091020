"""The `[mail]` section of the configuration file: where and how the monthly mail goes.

A password never sits in the file: `password_env` names the environment variable that holds
it, read only when the mail is sent (and checked before a run collects anything).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from email.utils import parseaddr
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from audit.config.values import Range, bounded, expect
from audit.support.errors import InputError

DEFAULT_ATTACH = ("report.xlsx", "report.html")
DEFAULT_MAX_ATTACHMENT_MB = 10.0
DEFAULT_TIMEOUT_S = 30.0
MAX_ATTACHMENT_MB = Range(0, 1000)
TIMEOUT_S = Range(0.1, 600)
PORTS = Range(1, 65535)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
            raise InputError(
                f"{where}mail.password_env: the environment variable {self.password_env} is not set"
            )
        return value

    def check_ready(self) -> None:
        """What can be checked before a run: the password and the CA file are there (the
        server is not asked)."""
        self.password()
        if self.ca_file is not None and not self.ca_file.is_file():
            where = f"{self.source}: " if self.source is not None else ""
            raise InputError(f"{where}mail.ca_file: {self.ca_file}: no such file")


def is_address(text: str) -> bool:
    """One address, display name allowed ("Audit <audit@example.com>"); no line break can
    reach a header."""
    _, address = parseaddr(text)
    return "@" in address and " " not in address and not any(ch in text for ch in "\r\n")


def _address(path: Path, key: str, value: Any) -> str:
    text: str = expect(path, key, value, str)
    if not is_address(text):
        raise InputError(f"{path}: {key}: expected a mail address, got {text!r}")
    return text


def _addresses(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    items = expect(path, key, value, list)
    return tuple(_address(path, f"{key}[{index}]", item) for index, item in enumerate(items))


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
    password_env = mail.get("password_env")
    if password_env is not None and not _ENV_NAME.fullmatch(
        expect(path, "mail.password_env", password_env, str)
    ):
        raise InputError(
            f"{path}: mail.password_env: expected the name of an environment variable, "
            f"got {password_env!r}"
        )
    to = _addresses(path, "mail.to", mail["to"])
    if not to:
        raise InputError(f"{path}: mail.to: expected at least one address")
    ca_file = mail.get("ca_file")
    max_mb = mail.get("max_attachment_mb", DEFAULT_MAX_ATTACHMENT_MB)
    timeout_s = mail.get("timeout_s", DEFAULT_TIMEOUT_S)
    attach = expect(path, "mail.attach", mail.get("attach", list(DEFAULT_ATTACH)), list)
    return MailSettings(
        host=expect(path, "mail.host", mail["host"], str),
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
