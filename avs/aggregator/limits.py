"""Abuse bounds that need no database: a per-key token bucket with a bounded number of keys.

Invariant: memory is bounded by ``max_keys`` buckets whatever the posters claim to be (the least
recently used bucket is dropped; a dropped key starts again with a full bucket, which only ever
favours the poster by one burst).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

MAX_BUCKETS: Final = 100_000
"""Distinct operators tracked at once: far above any committee (hundreds to a few thousand), small
in memory (~100 bytes a bucket)."""


class TokenBuckets:
    """``rate`` tokens per second, at most ``burst`` saved, one bucket per key."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = MAX_BUCKETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate > 0, burst >= 1 and max_keys >= 1 are required")
        self._rate = rate
        self._burst = float(burst)
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> bool:
        """Spend one token of ``key``'s bucket; False (and nothing spent) when it is empty."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return allowed
