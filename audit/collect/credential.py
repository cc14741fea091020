"""The consumer key's rights and expiry, read at the start of every run (never the key).

An audit key should only read: one that may also POST could change licences, so every run
says so. A key that expires soon would make next month's job fail: every run warns in time.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from audit.collect.api import credential_error, import_ovh
from audit.model.snapshot import CredentialInfo, CredentialRule, credential_warnings
from audit.runtime.text import printable

if TYPE_CHECKING:
    import ovh

CURRENT_CREDENTIAL = "/auth/currentCredential"


def credential_info(data: Any) -> CredentialInfo:
    """An `auth.Credential` answer as recorded in the snapshot (no ids, no key). Rules that
    are not a list of rules are noted: a key whose rights cannot be read is never shown as
    one with no rights."""
    if not isinstance(data, dict):
        return CredentialInfo(note=f"unexpected answer to GET {CURRENT_CREDENTIAL}")
    rules = data.get("rules")
    listed = rules if isinstance(rules, list) else []
    note = ""
    if rules is not None and not isinstance(rules, list):
        note = f"GET {CURRENT_CREDENTIAL}: rules given as {type(rules).__name__}, not a list"
    elif not all(isinstance(rule, dict) for rule in listed):
        note = f"GET {CURRENT_CREDENTIAL}: rules holding something else than rules"
    return CredentialInfo(
        status=str(data.get("status") or "unknown"),
        expiration=None if data.get("expiration") is None else str(data["expiration"]),
        rules=tuple(
            CredentialRule(str(rule.get("method")), str(rule.get("path")))
            for rule in listed
            if isinstance(rule, dict)
        ),
        note=note,
    )


def read_credential(client: ovh.Client) -> CredentialInfo:
    """One GET; a call not granted or a missing route is not fatal here: the rights stay
    unknown. A key or signature the API rejects outright stops the run, as any call would."""
    sdk = import_ovh()
    invalid_keys = (
        sdk.exceptions.InvalidKey,
        sdk.exceptions.InvalidCredential,
        sdk.exceptions.NotCredential,
    )
    try:
        return credential_info(client.get(CURRENT_CREDENTIAL))
    except invalid_keys as exc:
        raise credential_error(exc, "GET", CURRENT_CREDENTIAL) from None
    except sdk.exceptions.APIError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        reason = f"HTTP {status}" if status is not None else type(exc).__name__
        return CredentialInfo(note=f"GET {CURRENT_CREDENTIAL}: {reason}")


def warn_about_credential(
    credential: CredentialInfo, taken_at: datetime, stream: TextIO | None = None
) -> None:
    for warning in credential_warnings(credential, taken_at):
        print(f"ovh-license-audit: warning: {printable(warning)}", file=stream or sys.stderr)
