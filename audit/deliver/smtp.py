"""Sending by SMTP with the standard library: STARTTLS, implicit TLS or plain, optional login.

Certificates are verified against the system's trust store, or `ca_file` for a private CA.
Every failure becomes one `DeliveryError` line naming the server's answer (its code and
text); the password is never part of it.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
import threading
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any

from audit.config.mail import MailSettings, Security, address_of
from audit.runtime.text import printable
from audit.support.errors import AuditError, ExitCode, InputError
from audit.support.redact import encodings, redact


class DeliveryError(AuditError):
    """The mail could not be delivered; the run folder is complete and `mail` resends it."""

    exit_code = ExitCode.MAIL


def _text(reply: bytes | str) -> str:
    """A server reply on one line."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _refused(recipients: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address}: {code} {_text(reply)}" for address, (code, reply) in recipients.items()
    )


def _reason(exc: Exception, settings: MailSettings) -> str:
    """What went wrong, in the server's words where it answered."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"login refused: {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"recipient refused: {_refused(exc.recipients)}"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"sender {exc.sender} refused: {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"server answered {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"not offered by the server: {exc}"
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(
        exc.__context__, TimeoutError
    ):  # smtplib reports a read that timed out as a closed connection
        return _reason(exc.__context__, settings)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"the server closed the connection ({exc or 'no answer'})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS failed: certificate verify failed: {exc.verify_message} "
            "(mail.ca_file names a private CA)"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, TimeoutError):
        return f"no answer within {settings.timeout_s:g} s (mail.timeout_s)"
    if isinstance(exc, OSError):
        return f"cannot connect: {exc.strerror or exc}"
    return str(exc)


class _Deadline:
    """One deadline for the whole delivery. Socket timeouts bound each read, but a server
    that trickles its answer (a `220-` line every second) resets them for ever: when time is
    up, a timer shuts the connection down and the blocked read ends."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._client: smtplib.SMTP | None = None
        self._lock = threading.Lock()
        self._done = False
        self._timer = self._schedule(seconds)

    def _schedule(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self._expire)
        timer.daemon = True
        return timer

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True
            self._timer.cancel()

    def watch(self, client: smtplib.SMTP) -> None:
        with self._lock:
            self._client = client

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            client = self._client
        sock = None if client is None else client.sock  # after STARTTLS: the TLS socket
        if sock is None:  # still connecting (bounded by the socket timeout): look again soon
            with self._lock:
                if not self._done:
                    self._timer = self._schedule(0.05)
                    self._timer.start()
            return
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedSMTP(smtplib.SMTP):
    """smtplib.SMTP whose connection the deadline can cut, from the greeting on."""

    def __init__(self, deadline: _Deadline, *args: Any, **kwargs: Any) -> None:
        self.deadline = deadline
        super().__init__(*args, **kwargs)

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        self.deadline.watch(self)
        return super().connect(host, port, source_address)


class _WatchedSMTPSSL(_WatchedSMTP, smtplib.SMTP_SSL):
    """smtplib.SMTP_SSL (TLS from the first byte) whose connection the deadline can cut."""


def _connect(settings: MailSettings, context: ssl.SSLContext, deadline: _Deadline) -> smtplib.SMTP:
    if settings.security is Security.SSL:
        return _WatchedSMTPSSL(
            deadline, settings.host, settings.port, timeout=settings.timeout_s, context=context
        )
    client = _WatchedSMTP(deadline, settings.host, settings.port, timeout=settings.timeout_s)
    if settings.security is Security.STARTTLS:
        try:
            client.starttls(context=context)
        except BaseException:
            client.close()
            raise
    return client


def send(settings: MailSettings, message: EmailMessage, recipients: Sequence[str]) -> None:
    """Deliver `message` to `recipients` (the envelope: validated plain addresses, never
    re-read from the headers) within one deadline; any failure is a DeliveryError whose line
    holds no form of the password."""
    password = settings.password()
    secrets = encodings(password, settings.username) if password else set()
    cafile = None if settings.ca_file is None else str(settings.ca_file)
    try:
        context = ssl.create_default_context(cafile=cafile)
    except OSError as exc:  # the CA file is missing or not PEM: the configuration is wrong
        where = f"{settings.source}: " if settings.source is not None else ""
        raise InputError(f"{where}mail.ca_file: {cafile}: {exc.strerror or exc}") from None
    deadline = _Deadline(settings.timeout_s)
    try:
        with deadline, _connect(settings, context, deadline) as client:
            if settings.username is not None and password is not None:
                _login(client, settings, password)
            refused = client.send_message(
                message, from_addr=address_of(settings.sender), to_addrs=list(recipients)
            )
    except (smtplib.SMTPException, OSError) as exc:
        reason = (
            f"no answer within {settings.timeout_s:g} s (mail.timeout_s) for the whole delivery"
            if deadline.expired
            else _reason(exc, settings)
        )
    else:
        if not refused:
            return
        reason = f"delivered to the others, recipient refused: {_refused(refused)}"
    raise DeliveryError(
        printable(
            redact(
                f"mail not delivered: {settings.host}:{settings.port}: {reason}; "
                "the run folder is complete, `mail RUN_DIR` sends it again",
                secrets,
            )
        )
    )


def _login(client: smtplib.SMTP, settings: MailSettings, password: str) -> None:
    try:
        client.login(settings.username or "", password)
    except UnicodeEncodeError:  # smtplib sends logins as ASCII; the message would show a char
        where = f"{settings.source}: " if settings.source is not None else ""
        raise InputError(
            f"{where}mail.username or the password in mail.password_env: SMTP login takes "
            "ASCII characters only"
        ) from None
