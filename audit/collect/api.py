"""Building `ovh` clients: endpoint names or URLs, credentials the `ovh` way, errors mapped.

Credentials are never logged or stored: they stay inside the `ovh.Client` objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ovh
import ovh.client
import ovh.exceptions

from audit.errors import CredentialError, InputError

DEFAULT_TIMEOUT = (10.0, 60.0)

# Refusals that retrying cannot fix: the run stops with exit code 2.
CREDENTIAL_ERRORS: tuple[type[Exception], ...] = (
    ovh.exceptions.InvalidKey,
    ovh.exceptions.InvalidCredential,
    ovh.exceptions.NotCredential,
    ovh.exceptions.NotGrantedCall,
    ovh.exceptions.Forbidden,
)


def resolve_endpoint(value: str) -> str:
    """Return an `ovh.client.ENDPOINTS` key for an endpoint name or a base URL ending in /1.0.

    A URL is registered with the client under its own text, since the client only accepts
    names; its `ovh.conf` section is then the URL itself (or use the OVH_* variables).
    """
    if value in ovh.client.ENDPOINTS:
        return value
    if value.startswith(("http://", "https://")):
        if not value.rstrip("/").endswith("/1.0"):
            raise InputError(f"--endpoint {value!r}: a URL endpoint must end in /1.0")
        url = value.rstrip("/")
        ovh.client.ENDPOINTS[url] = url
        return url
    names = ", ".join(sorted(ovh.client.ENDPOINTS))
    raise InputError(f"--endpoint {value!r}: unknown endpoint name (one of {names}, or a URL)")


@dataclass(frozen=True)
class Credentials:
    """Explicit credentials (demo, tests); fields left None fall back to OVH_* and ovh.conf."""

    application_key: str | None = None
    application_secret: str | None = None
    consumer_key: str | None = None

    def __repr__(self) -> str:  # never print secrets, even in a traceback
        return "Credentials(<redacted>)"


@dataclass(frozen=True)
class ClientFactory:
    """Makes one `ovh.Client` per worker thread (a client's Session is not thread-safe)."""

    endpoint: str
    credentials: Credentials = Credentials()
    config_file: Path | None = None
    timeout: tuple[float, float] = DEFAULT_TIMEOUT

    def new_client(self, require_consumer_key: bool = True) -> ovh.Client:
        """A client; `require_consumer_key=False` only for asking the API for a new key."""
        try:
            client = ovh.Client(
                endpoint=self.endpoint,
                application_key=self.credentials.application_key,
                application_secret=self.credentials.application_secret,
                consumer_key=self.credentials.consumer_key,
                timeout=self.timeout,
                config_file=None if self.config_file is None else str(self.config_file),
            )
        except ovh.exceptions.InvalidConfiguration as exc:
            raise InputError(
                f"credentials: {exc} (set OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET and "
                "OVH_CONSUMER_KEY, or an ovh.conf)"
            ) from None
        except ovh.exceptions.InvalidRegion:
            raise InputError(f"--endpoint {self.endpoint!r}: unknown endpoint") from None
        if require_consumer_key and not client._consumer_key:  # else only on the first call
            raise InputError(
                "credentials: no consumer key (set OVH_CONSUMER_KEY or consumer_key in ovh.conf)"
            )
        return client


def credential_error(exc: Exception, method: str, path: str) -> CredentialError:
    """A one-line message for a refused call, with the API's words and no secret."""
    kind = type(exc).__name__
    message = str(exc).splitlines()[0] if str(exc) else "refused"
    return CredentialError(f"{method} {path}: the API refused the call ({kind}: {message})")
