"""Sending by SMTP with the standard library: STARTTLS, implicit TLS or plain, optional login.

Certificates are verified against the system's trust store, or `ca_file` for a private CA.
Every failure becomes one `DeliveryError` line naming the server's answer (its code and
text); the password is never part of it.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage

from audit.config.mail import MailSettings, Security
from audit.support.errors import AuditError, ExitCode, InputError


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


def _connect(settings: MailSettings, context: ssl.SSLContext) -> smtplib.SMTP:
    if settings.security is Security.SSL:
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout_s, context=context
        )
    client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
    if settings.security is Security.STARTTLS:
        try:
            client.starttls(context=context)
        except BaseException:
            client.close()
            raise
    return client


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Deliver `message` to its To and Cc; any failure is a DeliveryError."""
    password = settings.password()
    cafile = None if settings.ca_file is None else str(settings.ca_file)
    try:
        context = ssl.create_default_context(cafile=cafile)
    except OSError as exc:  # the CA file is missing or not PEM: the configuration is wrong
        where = f"{settings.source}: " if settings.source is not None else ""
        raise InputError(f"{where}mail.ca_file: {cafile}: {exc.strerror or exc}") from None
    try:
        with _connect(settings, context) as client:
            if settings.username is not None and password is not None:
                client.login(settings.username, password)
            refused = client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        reason = _reason(exc, settings)
    else:
        if not refused:
            return
        reason = f"delivered to the others, recipient refused: {_refused(refused)}"
    if password:
        reason = reason.replace(password, "***")
    raise DeliveryError(
        f"mail not delivered: {settings.host}:{settings.port}: {reason}; "
        "the run folder is complete, `mail RUN_DIR` sends it again"
    )
