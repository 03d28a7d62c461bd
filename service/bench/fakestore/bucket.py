"""Shopify's cost-based rate limit: a leaky bucket of points per shop.

A query is admitted when the bucket holds its requested cost; that is taken, and the difference to the actual
cost (known once it ran) is given back. Points come back at `restore_rate` per second up to `maximum`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LeakyBucket:
    def __init__(self, maximum: float = 1000.0, restore_rate: float = 50.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.maximum = float(maximum)
        self.restore_rate = float(restore_rate)
        self._clock = clock
        self._available = float(maximum)
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._available = min(self.maximum, self._available + (now - self._at) * self.restore_rate)
        self._at = now

    def take(self, cost: float) -> bool:
        """Admit a query of `cost` points (and take them), or refuse it (throttled) and take nothing."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def give_back(self, points: float) -> None:
        with self._lock:
            self._refill()
            self._available = min(self.maximum, self._available + max(points, 0.0))

    def drain(self) -> None:
        """Empty the bucket (as if another app had just used it all)."""
        with self._lock:
            self._refill()
            self._available = 0.0

    def status(self) -> dict:
        with self._lock:
            self._refill()
            return {"maximumAvailable": self.maximum, "currentlyAvailable": int(self._available),
                    "restoreRate": self.restore_rate}
