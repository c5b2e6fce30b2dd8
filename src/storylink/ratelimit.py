"""A token bucket per client address: how `storylink serve` limits writes (`POST /articles`).

Each client may make `per_minute` writes a minute on average, in bursts of up to `per_minute`;
beyond that it is told how many seconds to wait (HTTP 429 with Retry-After). Buckets of clients
that have been quiet long enough to be full again are forgotten, so memory stays bounded.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

FORGET_ABOVE = 1024  # clients remembered before the quiet ones are looked for


@dataclass
class RateLimiter:
    """`take(client)` is 0 when the client may go on, else the seconds until it may."""

    per_minute: float
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # tokens, when
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, client: str) -> int:
        rate = self.per_minute / 60  # tokens per second
        with self._lock:
            now = self.clock()
            if len(self._buckets) > FORGET_ABOVE:
                self._forget_full(now, rate)
            tokens, then = self._buckets.get(client, (self.per_minute, now))
            tokens = min(self.per_minute, tokens + (now - then) * rate)
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                return max(1, math.ceil((1 - tokens) / rate))
            self._buckets[client] = (tokens - 1, now)
            return 0

    def _forget_full(self, now: float, rate: float) -> None:
        full_after = self.per_minute / rate
        quiet = [c for c, (_, then) in self._buckets.items() if now - then >= full_after]
        for client in quiet:
            del self._buckets[client]
