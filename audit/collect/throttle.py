"""The client-side pace shared by all worker threads: a rate that adapts to what the API allows.

OVHcloud publishes no rate limit, so no fixed rate can be right: a low one wastes a
generous API, a high one hammers a strict one. The limiter starts at a polite rate, raises it
while calls succeed and latency holds, and backs off sharply when the server says so (429:
multiplicative decrease plus a pause of every worker for Retry-After; 5xx: a milder
decrease), always between a floor and a ceiling (`--max-rps`). Its first second doubles the
start rate; once those answers came back with no push-back, the climb is faster (doubling
about every quarter of a second), until the first back-off.

After the first 429 the limiter knows roughly where the server's limit lies (the calls that
succeeded in the last second): it climbs back quickly towards that rate, then probes beyond
it slowly (additive increase), so a token-bucket server answers few 429s.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_START_RPS = 10.0
DEFAULT_FLOOR_RPS = 1.0


@dataclass(frozen=True)
class PacePolicy:
    """How the rate moves. `ceiling` None means no client-side ceiling at all."""

    ceiling: float | None = 100.0
    start: float = DEFAULT_START_RPS
    floor: float = DEFAULT_FLOOR_RPS
    slow_start_step: float = 1.0  # rps added per success in the first second (~x2 a second)
    fast_start_step: float = 3.0  # then, until any back-off (~x2 every quarter of a second)
    recovery_per_s: float = 1.0  # share of the gap to the known limit closed per second
    probe_per_s: float = 0.05  # beyond the known limit: rps added per second, as its share
    min_probe_rps: float = 0.2
    throttle_backoff: float = 0.6  # rate kept after a 429
    error_backoff: float = 0.8  # rate kept after a 5xx
    latency_hold: float = 2.0  # no increase while latency exceeds this many times the best


@dataclass(frozen=True)
class PaceReport:
    """What the pace came to, for the run's metadata."""

    rate: float  # the rate at the end of the collection (requests per second)
    peak: float  # the highest rate the limiter allowed
    throttled: int  # calls answered 429
    server_errors: int  # calls answered 5xx


class AdaptiveLimiter:
    """Spaces calls evenly at an adaptive rate across threads.

    `acquire()` waits for the next slot and returns a ticket (how many back-offs had happened
    when the call was allowed), which the caller hands back with a failure: answers to calls
    allowed before a back-off do not cut again. A pause (Retry-After) also holds back the
    threads already waiting for a slot.
    """

    def __init__(
        self,
        policy: PacePolicy,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._sleep = sleep
        self._stopped = stopped  # the collection is over (deadline, interrupt): stop waiting
        self._lock = threading.Lock()
        self._turn = threading.Lock()  # held by the one thread waiting for the next slot
        self._unlimited = policy.ceiling is None
        ceiling = policy.ceiling if policy.ceiling is not None else float("inf")
        self._ceiling = max(ceiling, policy.floor)
        self._rate = min(max(policy.start, policy.floor), self._ceiling)
        self._peak = self._rate
        self._last_slot = float("-inf")  # when the last call was allowed
        self._paused_until = float("-inf")
        self._cuts = 0
        self._known_limit: float | None = None
        self._best_latency: float | None = None
        self._successes: deque[float] = deque()
        self._answered = 0  # successes so far
        self.throttled = 0
        self.server_errors = 0

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def known_limit(self) -> float | None:
        """The rate the server allowed when it last answered 429 (None before any)."""
        return self._known_limit

    def report(self) -> PaceReport:
        with self._lock:
            peak = self._peak if not self._unlimited else 0.0
            rate = self._rate if not self._unlimited else 0.0
            return PaceReport(round(rate, 2), round(peak, 2), self.throttled, self.server_errors)

    def acquire(self) -> int:
        """Wait for this thread's slot; return the ticket for `on_throttled`.

        One thread at a time waits for the next slot (the others queue on `_turn`), and it
        measures the slot from the last call allowed at the rate of now, not of when it
        started waiting: a rate raised or a pause begun meanwhile holds at once, where slots
        booked ahead by every worker would run the old rate for a whole round of them. Returns
        at once when the collection is over (`stopped`): the caller then gives up the call.
        """
        waited = False
        with self._turn:
            while True:
                with self._lock:
                    now = self._clock()
                    interval = 0.0 if self._unlimited else 1.0 / self._rate
                    slot = max(self._last_slot + interval, self._paused_until)
                    if slot <= now:
                        # Spacing counts from the slot (a late wake-up does not slow the
                        # pace); after an idle spell, from now (no burst to catch up).
                        self._last_slot = slot if waited else now
                        return self._cuts
                self._sleep(slot - now)
                if self._stopped():
                    return self._cuts
                waited = True

    def pause(self, seconds: float) -> None:
        """Delay every thread's next call, for a server's Retry-After."""
        with self._lock:
            self._pause_locked(seconds)

    def _pause_locked(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def on_success(self, latency: float) -> None:
        """A call answered: raise the rate unless latency has grown."""
        policy = self._policy
        with self._lock:
            now = self._clock()
            self._answered += 1
            self._successes.append(now)
            while self._successes and self._successes[0] < now - 1.0:
                self._successes.popleft()
            if self._best_latency is None or latency < self._best_latency:
                self._best_latency = latency
            if self._unlimited or latency > policy.latency_hold * self._best_latency + 0.01:
                return
            rate = self._rate
            if self._known_limit is None:
                rate += self._start_step()
            else:
                # A per-second growth, spread over the calls of one second at this rate.
                gap = self._known_limit - rate
                probe = max(policy.min_probe_rps, policy.probe_per_s * self._known_limit)
                rate += max(probe, policy.recovery_per_s * gap) / rate
            self._rate = min(rate, self._ceiling)
            self._peak = max(self._peak, self._rate)

    def _start_step(self) -> float:
        """Before any 429: the polite step for the first second's worth of answers (as many
        as the start rate); once they came back with no back-off, the faster one."""
        policy = self._policy
        if self._cuts == 0 and self._answered > policy.start:
            return policy.fast_start_step
        return policy.slow_start_step

    def on_throttled(self, ticket: int, retry_after: float | None) -> None:
        """A 429: cut the rate once per back-off and pause every worker for Retry-After."""
        with self._lock:
            self.throttled += 1
            now = self._clock()
            if ticket == self._cuts and not self._unlimited:
                while self._successes and self._successes[0] < now - 1.0:
                    self._successes.popleft()
                allowed = float(len(self._successes))
                limit = min(self._rate, allowed) if allowed >= self._policy.floor else self._rate
                self._known_limit = limit
                self._rate = max(self._policy.floor, limit * self._policy.throttle_backoff)
                self._cuts += 1
            if retry_after is not None:
                self._pause_locked(retry_after)

    def on_server_error(self, ticket: int) -> None:
        """A 5xx: the server may be struggling; slow down a little, once per back-off."""
        with self._lock:
            self.server_errors += 1
            if ticket == self._cuts and not self._unlimited:
                self._rate = max(self._policy.floor, self._rate * self._policy.error_backoff)
                self._cuts += 1
