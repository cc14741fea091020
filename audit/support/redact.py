"""Secrets masked in whatever the tool prints or keeps: an error line, a crash's traceback.

The secrets are the `ovh` credentials in the environment and the ones a command registers
when it reads them (the SMTP password), in every encoding the tool sends them: the text
itself, its base64 (SMTP AUTH LOGIN) and the base64 of the AUTH PLAIN string, since a server
may echo what it received.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable

MASK = "***"
# The `ovh` client's secrets, when they come from the environment.
ENV_SECRETS = ("OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY", "OVH_CLIENT_SECRET")
# Shorter values are not masked: they would blank ordinary words of a message.
_MIN_LENGTH = 4

_registered: set[str] = set()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def encodings(secret: str, username: str | None = None) -> set[str]:
    """The forms in which `secret` leaves the tool: as is, base64, and for a login the
    base64 of the AUTH PLAIN string (`\\0user\\0secret`)."""
    forms = {secret, _b64(secret)}
    if username is not None:
        forms |= {_b64(f"\0{username}\0{secret}"), _b64(f"{username}\0{secret}")}
    return forms


def register_secret(secret: str, username: str | None = None) -> set[str]:
    """Remember a secret the command holds, so every later `redact` masks it; its forms."""
    forms = encodings(secret, username)
    _registered.update(form for form in forms if len(form) >= _MIN_LENGTH)
    return forms


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """`text` with every known secret (and `extra`, however short) replaced by `***`,
    longest first."""
    known = set(_registered)
    for name in ENV_SECRETS:
        value = os.environ.get(name)
        if value:
            known |= encodings(value)
    secrets = {s for s in known if len(s) >= _MIN_LENGTH} | {s for s in extra if s}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
