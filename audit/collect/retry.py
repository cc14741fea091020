"""Which API failures to retry, and how long to wait: exponential backoff with full jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from audit.collect.api import credential_errors, import_ovh
from audit.runtime.ovhapi import MAX_RETRY_AFTER_S, network_cause, retry_after, transient


class Verdict(StrEnum):
    """What to do with a failed call."""

    RETRY = "retry"
    GIVE_UP = "give_up"
    FATAL = "fatal"


@dataclass(frozen=True)
class Classified:
    verdict: Verdict
    reason: str
    retry_after: float | None = None
    status: int | None = None  # the HTTP status, when the API answered one


@dataclass(frozen=True)
class RetryPolicy:
    """A bounded number of retries; defaults suit the real API, tests pass tiny delays."""

    max_retries: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_S)
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return rng.uniform(0, ceiling)


def classify(exc: Exception) -> Classified:
    """Sort an `ovh` exception into retry, give up (recorded in coverage) or fatal."""
    ovh = import_ovh()
    if isinstance(exc, credential_errors()):
        return Classified(Verdict.FATAL, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ovh.exceptions.HTTPError):
        return Classified(Verdict.RETRY, f"network error: {network_cause(exc)}")
    if isinstance(exc, ovh.exceptions.InvalidResponse):
        return Classified(Verdict.RETRY, "non-JSON response")
    if isinstance(
        exc,
        ovh.exceptions.ResourceNotFoundError
        | ovh.exceptions.BadParametersError
        | ovh.exceptions.ResourceConflictError,
    ):
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        return Classified(Verdict.GIVE_UP, f"HTTP {status} {type(exc).__name__}: {exc}")
    if isinstance(exc, ovh.exceptions.APIError):
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        label = f"HTTP {status}: {exc}"
        if transient(exc):
            return Classified(Verdict.RETRY, label, retry_after(response), status)
        return Classified(Verdict.GIVE_UP, label)
    return Classified(Verdict.GIVE_UP, f"{type(exc).__name__}: {exc}")
