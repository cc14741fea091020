"""A local SMTP server that keeps what it receives: the demo mails its report to one, and the
tests deliver through one (aiosmtpd, a real SMTP implementation, in a thread of its own)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Received:
    """One delivered message: the envelope and the bytes as they arrived."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes


@dataclass
class Mailbox:
    """The aiosmtpd handler: keeps every message; `refuse` recipients get a 550."""

    refuse: frozenset[str] = frozenset()
    messages: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: recipient unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append(
            Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(content))
        )
        return "250 Message accepted for delivery"


class LocalSmtpServer(Controller):
    """aiosmtpd's Controller on a free port of 127.0.0.1 (`port` is known once started).

    `smtp_options` go to aiosmtpd's SMTP (tls_context, authenticator, require_starttls...);
    `ssl_context` makes it an implicit-TLS server.
    """

    def __init__(
        self,
        mailbox: Mailbox,
        ssl_context: ssl.SSLContext | None = None,
        **smtp_options: Any,
    ) -> None:
        super().__init__(
            mailbox, hostname="127.0.0.1", port=0, ssl_context=ssl_context, **smtp_options
        )
        self.mailbox = mailbox

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self._bind()

    async def _bind(self) -> asyncio.AbstractServer:
        server = await super()._create_server()
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]  # port 0: the system chose one
        return server

    def __enter__(self) -> LocalSmtpServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
