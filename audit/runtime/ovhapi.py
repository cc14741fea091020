"""The `ovh` client's ways, learnt once: its lazy import, endpoints, refusals and retries.

Importing `ovh` parses every ovh.conf (a module-level ConfigurationManager), so nothing imports
it before it is needed: a broken ovh.conf must not break `--help`.
"""

from __future__ import annotations

import configparser
import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from audit.runtime.exits import UsageError
from audit.runtime.text import printable

# The longest Retry-After honoured, in seconds: a larger value is a server's mistake.
MAX_RETRY_AFTER_S = 300.0


# Where `ovh` looks for its configuration (ovh/config.py CONFIG_PATH), in reading order.
OVH_CONF_FILES = ("/etc/ovh.conf", "~/.ovh.conf", "ovh.conf")


def _broken_ovh_conf(candidates: tuple[str, ...]) -> str:
    """The first of `candidates` that does not parse, as `ovh` would read it."""
    for candidate in candidates:
        path = Path(candidate).expanduser()
        try:
            configparser.RawConfigParser().read(path)
        except (configparser.Error, UnicodeDecodeError):
            return str(path)
    return " or ".join(candidates)


@contextmanager
def ovh_conf_errors(*candidates: str) -> Iterator[None]:
    """A parse error of an ovh.conf as a UsageError naming the file, never its text:
    configparser's messages quote the offending line, which may be a secret."""
    try:
        yield
    except (configparser.Error, UnicodeDecodeError):
        where = _broken_ovh_conf(candidates or OVH_CONF_FILES)
        raise UsageError(
            f"{where}: not a valid ovh.conf (expected [sections] of key=value lines in UTF-8)"
        ) from None


def import_ovh() -> Any:
    """`ovh`, imported on first use: its import reads every ovh.conf, and a missing package
    is a one-line error too (the generated script runs wherever the operator copies it)."""
    try:
        with ovh_conf_errors():
            import ovh
            import ovh.client
            import ovh.config
            import ovh.exceptions
    except ImportError:
        raise UsageError("the `ovh` package is not installed (pip install ovh)") from None
    return ovh


@functools.cache
def key_refusals() -> tuple[type[Exception], ...]:
    """Refusals of the key itself: retrying cannot fix them and nothing more can succeed with
    the key, so the run stops."""
    exceptions = import_ovh().exceptions
    return (
        exceptions.InvalidKey,
        exceptions.InvalidCredential,
        exceptions.NotCredential,
        exceptions.NotGrantedCall,
        exceptions.Forbidden,
    )


def register_endpoint(value: str) -> str:
    """An `ovh.client.ENDPOINTS` name for an endpoint name or a base URL ending in /1.0.

    A URL is registered with the client under its own text, since the client only accepts
    names; its `ovh.conf` section is then the URL itself (or use the OVH_* variables).
    """
    endpoints: dict[str, str] = import_ovh().client.ENDPOINTS
    if value in endpoints:
        return value
    if value.startswith(("http://", "https://")):
        if not value.rstrip("/").endswith("/1.0"):
            raise UsageError(f"--endpoint {value!r}: a URL endpoint must end in /1.0")
        url = value.rstrip("/")
        endpoints[url] = url
        return url
    names = ", ".join(sorted(endpoints))
    raise UsageError(f"--endpoint {value!r}: unknown endpoint name (one of {names}, or a URL)")


def http_status(exc: Exception) -> int | None:
    """The HTTP status of a failed call, when there was an answer."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def retry_after(response: object) -> float | None:
    """The answer's Retry-After in seconds (0 to MAX_RETRY_AFTER_S), or None when absent or
    not a number (an HTTP-date or garbage: the caller backs off on its own)."""
    headers = getattr(response, "headers", None)
    value = None if headers is None else headers.get("Retry-After")
    if value is None:
        return None
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(value)))
    except ValueError:
        return None


def transient(exc: Exception) -> bool:
    """A failure a later identical GET may not meet: rate limiting (429), a network error, a
    garbled answer or a server error. A refused key or a 4xx is the same every time."""
    ovh = import_ovh()
    status = http_status(exc)
    if status == 429:
        return True
    if isinstance(exc, ovh.exceptions.HTTPError | ovh.exceptions.InvalidResponse):
        return True
    if isinstance(exc, key_refusals()) or not isinstance(exc, ovh.exceptions.APIError):
        return False
    answered = (
        ovh.exceptions.ResourceNotFoundError
        | ovh.exceptions.BadParametersError
        | ovh.exceptions.ResourceConflictError
    )
    return not isinstance(exc, answered) and (status is None or status >= 500)


# urllib3 starts its messages with the connection object: `HTTPConnection(host=..., port=...): `
# (urllib3 2) or `<urllib3.connection.HTTPConnection object at 0x...>: ` (urllib3 1).
_CONNECTION_PREFIX = re.compile(r"^(?:\w+\(host=[^)]*\)|<[^>]*>): ")


def network_cause(exc: BaseException) -> str:
    """The root of a network failure in a few words ("Connection refused", "Read timed out"):
    `ovh` wraps the error of requests, which wraps urllib3's, whose text is a pile of reprs."""
    chain: list[BaseException] = []
    todo = [exc]
    while todo:  # breadth first: the causes come after what they caused
        current = todo.pop(0)
        if any(current is seen for seen in chain):
            continue
        chain.append(current)
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError
        linked = (*current.args, reason, current.__cause__, current.__context__)
        todo += [item for item in linked if isinstance(item, BaseException)]
    for item in reversed(chain):
        if isinstance(item, OSError) and item.strerror:  # the socket's own words
            return printable(item.strerror)
    for item in reversed(chain):
        if type(item).__module__ != "builtins" and item is not exc:
            text = _CONNECTION_PREFIX.sub("", str(item).splitlines()[0] if str(item) else "")
            if text and "(Caused by" not in text:
                return printable(text)
    return type(exc).__name__


def api_message(exc: Exception) -> str:
    """The API's own words, on one line (no query id, no secret: the client holds those)."""
    ovh = import_ovh()
    if isinstance(exc, ovh.exceptions.HTTPError):
        return f"network error: {network_cause(exc)}"
    text = str(exc).split("\nOVH-Query-ID:")[0].strip()
    return printable(text.replace("\n", " ")) or type(exc).__name__
