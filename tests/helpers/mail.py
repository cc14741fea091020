"""A real SMTP server per test (aiosmtpd) with STARTTLS or implicit TLS on a certificate made
for the test (trustme), AUTH LOGIN/PLAIN, and run folders to mail."""

from __future__ import annotations

import hashlib
import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.smtp import AuthResult, LoginPassword

from audit.deliver.capture import LocalSmtpServer, Mailbox
from tests.helpers.history import LINUX, PROD, STD, WIN
from tests.helpers.history import run_month as job
from tests.helpers.vms import api_vm

USER = "audit-mailer"
SECRET = "s3cr3t-Pa55-do-not-leak"
PASSWORD_ENV = "AUDIT_TEST_SMTP_PASSWORD"
TO = ("licence-owner@example.com",)
CC = ("auditor-1@example.com", "auditor-2@example.com")
OCTOBER, NOVEMBER = "2026-10", "2026-11"


def october() -> dict[tuple[str, int], list[dict[str, Any]]]:
    return {(PROD, 1): [api_vm(1, WIN, None), api_vm(2, WIN, STD), api_vm(3, LINUX, STD)]}


def november() -> dict[tuple[str, int], list[dict[str, Any]]]:
    """VM 4 arrives unlicensed, VM 3's wrong licence is removed, VM 2 is deleted."""
    return {(PROD, 1): [api_vm(1, WIN, None), api_vm(4, WIN, None), api_vm(3, LINUX, None)]}


def two_months(out: Path) -> Path:
    """The job for October and November (--fail-on high); November's run folder."""
    job(out, OCTOBER, october(), fail_on="high")
    return job(out, NOVEMBER, november(), fail_on="high").run_dir


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree(run_dir: Path) -> dict[str, str]:
    """Every file of a folder and its sha256."""
    return {
        path.relative_to(run_dir).as_posix(): sha256(path.read_bytes())
        for path in sorted(run_dir.rglob("*"))
        if path.is_file()
    }


def assert_complete(run_dir: Path) -> None:
    """The run folder holds exactly what its manifest lists, byte for byte."""
    files = tree(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert {name: digest for name, digest in files.items() if name != "manifest.json"} == (
        manifest["files"]
    )


@dataclass(frozen=True)
class Pki:
    """A test CA the client trusts (ca_file) and one it does not."""

    ca_file: Path
    server: ssl.SSLContext  # signed by the trusted CA
    untrusted_server: ssl.SSLContext  # signed by another CA


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def make_pki(folder: Path) -> Pki:
    trusted = trustme.CA()
    ca_file = folder / "test-ca.pem"
    trusted.cert_pem.write_to_path(str(ca_file))
    return Pki(ca_file, _server_context(trusted), _server_context(trustme.CA()))


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    """Accepts USER with SECRET, whatever the mechanism (LOGIN or PLAIN)."""
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        SECRET.encode(),
    )
    return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(
    pki: Pki,
    security: str = "starttls",
    refuse: frozenset[str] = frozenset(),
    mechanisms: tuple[str, ...] = ("LOGIN", "PLAIN"),
    untrusted: bool = False,
) -> Iterator[LocalSmtpServer]:
    """A server that requires TLS (STARTTLS or implicit) and a login before MAIL FROM."""
    context = pki.untrusted_server if untrusted else pki.server
    options: dict[str, Any] = dict(
        authenticator=authenticator,
        auth_required=True,
        auth_exclude_mechanism=[m for m in ("LOGIN", "PLAIN") if m not in mechanisms],
    )
    if security == "ssl":  # TLS from the first byte: aiosmtpd's STARTTLS check does not apply
        server = LocalSmtpServer(
            Mailbox(refuse=refuse), ssl_context=context, auth_require_tls=False, **options
        )
    else:
        server = LocalSmtpServer(
            Mailbox(refuse=refuse), tls_context=context, require_starttls=True, **options
        )
    with server:
        yield server


def write_config(
    path: Path,
    port: int,
    pki: Pki,
    security: str = "starttls",
    extra: str = "",
    fail_on: str | None = None,
) -> Path:
    audit = f'[audit]\nfail_on = "{fail_on}"\n\n' if fail_on else ""
    path.write_text(
        f"{audit}[mail]\n"
        f'host = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\n'
        f'username = "{USER}"\npassword_env = "{PASSWORD_ENV}"\n'
        f"ca_file = {json.dumps(str(pki.ca_file))}\n"
        f'from = "Licence audit <audit@example.com>"\n'
        f"to = {json.dumps(list(TO))}\ncc = {json.dumps(list(CC))}\n"
        f"{extra}"
    )
    return path
