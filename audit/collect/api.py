"""Building `ovh` clients: endpoint names or URLs, credentials the `ovh` way, errors mapped.

Credentials are never logged or stored: they stay inside the `ovh.Client` objects.

Importing `ovh` parses every ovh.conf (a module-level ConfigurationManager), so nothing on the
way to the argument parser imports it: a broken ovh.conf must not break `--help`. It is
imported here, on first use, where a broken file becomes a one-line error naming the file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.runtime import ovhapi
from audit.runtime.exits import UsageError
from audit.runtime.ovhapi import network_cause
from audit.runtime.text import printable
from audit.support.errors import AuditError, CredentialError, InputError

if TYPE_CHECKING:
    import ovh

DEFAULT_TIMEOUT = (10.0, 60.0)

OVH_CONF_FILES = ovhapi.OVH_CONF_FILES


@contextmanager
def ovh_conf_errors(*candidates: str) -> Iterator[None]:
    """A broken ovh.conf as an InputError naming the file, never its text (see ovhapi)."""
    try:
        with ovhapi.ovh_conf_errors(*candidates):
            yield
    except UsageError as exc:
        raise InputError(str(exc)) from None


def import_ovh() -> Any:
    """The `ovh` package, imported on first use (the import reads ovh.conf)."""
    try:
        return ovhapi.import_ovh()
    except UsageError as exc:
        raise InputError(str(exc)) from None


def credential_errors() -> tuple[type[Exception], ...]:
    """Refusals that retrying cannot fix: the run stops with exit code 2."""
    import_ovh()  # a broken ovh.conf is named here, not met as a traceback below
    return ovhapi.key_refusals()


def read_ovh_conf_endpoint(config_file: Path | None) -> str | None:
    """`[default] endpoint` the way `ovh.Client` finds it: OVH_ENDPOINT, then the files."""
    manager = import_ovh().config.ConfigurationManager()
    if config_file is not None:
        check_ovh_config_file(config_file)
        with ovh_conf_errors(str(config_file)):
            manager.read(str(config_file))
    endpoint: str | None = manager.get("default", "endpoint")
    return endpoint


def check_ovh_config_file(config_file: Path) -> None:
    """`ovh` skips a missing file silently; a named one must exist."""
    if not config_file.is_file():
        raise InputError(f"{config_file}: ovh_config file not found")


def resolve_endpoint(value: str) -> str:
    """`register_endpoint` of the runtime, a broken ovh.conf or a bad value an InputError."""
    import_ovh()
    try:
        return ovhapi.register_endpoint(value)
    except UsageError as exc:
        raise InputError(str(exc)) from None


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
        sdk = import_ovh()
        files: tuple[str, ...] = OVH_CONF_FILES
        if self.config_file is not None:
            check_ovh_config_file(self.config_file)
            files = (*files, str(self.config_file))
        try:
            with ovh_conf_errors(*files):
                client = sdk.Client(
                    endpoint=self.endpoint,
                    application_key=self.credentials.application_key,
                    application_secret=self.credentials.application_secret,
                    consumer_key=self.credentials.consumer_key,
                    timeout=self.timeout,
                    config_file=None if self.config_file is None else str(self.config_file),
                )
        except sdk.exceptions.InvalidConfiguration as exc:
            needed = (
                "OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET and OVH_CONSUMER_KEY"
                if require_consumer_key
                else "OVH_APPLICATION_KEY and OVH_APPLICATION_SECRET (the consumer key is "
                "what `auth request` creates)"
            )
            raise InputError(f"credentials: {exc} (set {needed}, or an ovh.conf)") from None
        except sdk.exceptions.InvalidRegion:
            raise InputError(f"--endpoint {self.endpoint!r}: unknown endpoint") from None
        if require_consumer_key and not client._consumer_key:  # else only on the first call
            raise InputError(
                "credentials: no consumer key (set OVH_CONSUMER_KEY or consumer_key in ovh.conf)"
            )
        read_environment_once(client)
        checked: ovh.Client = client
        return checked


def read_environment_once(client: ovh.Client) -> None:
    """Settle the proxy, CA bundle and .netrc settings of the client's session now, once.

    `requests` reads them from the environment on every call (trust_env): scanning
    os.environ twice and looking for ~/.netrc cost a quarter of the client's CPU per
    call, and each file-system check hands the GIL to another worker. Every call of a client
    goes to its one endpoint, so what the environment says for that URL holds for all of
    them: the same settings, read once (set before the client is used, in its own thread).
    """
    import requests.utils

    oauth2 = getattr(client, "_oauth2", None)
    for session in (client._session, getattr(oauth2, "session", None)):
        if not isinstance(session, requests.Session) or not session.trust_env:
            continue
        url = client._endpoint
        settings = session.merge_environment_settings(url, {}, None, None, None)
        if session.auth is None:
            session.auth = requests.utils.get_netrc_auth(url)
        session.proxies = settings["proxies"]
        session.verify = settings["verify"]
        session.cert = settings["cert"]
        session.trust_env = False


NOT_VALID_HINT = (
    "not validated yet? The account owner opens the validation URL `auth request` printed "
    "(https://.../auth/?credentialToken=...), then `auth check` again; an expired or revoked "
    "key needs a new `auth request`"
)


def credential_error(exc: Exception, method: str, path: str) -> CredentialError:
    """A one-line message for a refused call, with the API's words and no secret; a consumer
    key the API does not accept (INVALID_CREDENTIAL but for a bad signature: not validated,
    expired, unknown) points at the validation URL, whichever command met it first."""
    kind = type(exc).__name__
    message = printable(str(exc).splitlines()[0]) if str(exc) else "refused"
    invalid = isinstance(exc, import_ovh().exceptions.InvalidCredential)
    hint = f": {NOT_VALID_HINT}" if invalid and "signature" not in message.lower() else ""
    return CredentialError(f"{method} {path}: the API refused the call ({kind}: {message}){hint}")


class Unreachable(AuditError):
    """The endpoint could not be reached at all (connection refused, name not resolved, no
    answer): exit 2, one line saying why in words."""


def server_time(client: ovh.Client, endpoint: str) -> int | None:
    """GET /auth/time, the unsigned call every `ovh` client makes first, checked.

    A web page there (a proxy's login page, a wrong URL) or anything but a time is not the
    API: InputError. An API error answer (429, 5xx) returns None: the caller decides. A
    network failure raises Unreachable, its cause in words.
    """
    import requests

    try:
        response = client.raw_call("GET", "/auth/time", need_auth=False)
    except requests.RequestException as exc:
        raise Unreachable(f"cannot reach {endpoint}: {network_cause(exc)}") from None
    kind = str(response.headers.get("Content-Type") or "")
    try:
        value = response.json()
    except ValueError:
        html = "html" in kind.lower() or response.content.lstrip()[:1] == b"<"
        what = "a web page (HTML)" if html else f"something else than JSON ({kind or 'no type'})"
        raise InputError(
            f"--endpoint {endpoint}: GET /auth/time answered {what}, not the time: not the "
            "OVHcloud API (a proxy's login page, or a wrong URL?)"
        ) from None
    if response.status_code >= 300:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        shown = printable(repr(value))
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise InputError(
            f"--endpoint {endpoint}: GET /auth/time answered {shown}, not the time: not the "
            "OVHcloud API"
        )
    return value


def check_endpoint(factory: ClientFactory) -> None:
    """Refuse an endpoint that is plainly not the API before the collection retries it.

    A network failure or an error answer is left to the collection, which retries it and
    records what it could not read.
    """
    with contextlib.suppress(Unreachable):
        server_time(factory.new_client(), factory.endpoint)
