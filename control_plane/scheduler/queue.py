"""Pods waiting to be scheduled: active (try now), backoff (try at a time), and
unschedulable (wait for a change in the cluster).

Level-triggered and never a hot loop: an unschedulable pod is tried again only when
`move_unschedulable()` is called (a node appeared or changed what filters read, or a
pod freed resources) or after `flush_after` seconds.  Thread-safe.

Back-off and flush times come from the injected `Clock`; the blocking `pop(timeout)`
waits in real time (a thread's wait with its own deadline).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque

from control_plane.client.clock import Clock, SystemClock


class SchedulingQueue:
    def __init__(self, flush_after: float = 60.0, clock: Clock | None = None) -> None:
        self.flush_after = flush_after
        self.clock: Clock = clock or SystemClock()
        self._active: deque[str] = deque()
        self._in_active: set[str] = set()
        self._backoff: list[tuple[float, str]] = []
        self._attempts: dict[str, int] = {}
        self._unschedulable: dict[str, float] = {}  # key -> since
        self._cond = threading.Condition()

    def add(self, key: str) -> None:
        """Make `key` active (new or changed pod)."""
        with self._cond:
            self._unschedulable.pop(key, None)
            self._push(key)

    def remove(self, key: str) -> None:
        with self._cond:
            self._unschedulable.pop(key, None)
            self._attempts.pop(key, None)
            if key in self._in_active:
                self._in_active.discard(key)
                self._active.remove(key)

    def is_unschedulable(self, key: str) -> bool:
        with self._cond:
            return key in self._unschedulable

    def unschedulable(self, key: str) -> None:
        with self._cond:
            self._unschedulable[key] = self.clock.monotonic()

    def backoff(self, key: str) -> float:
        """Retry `key` later, 1 s doubling to 10 s; returns the delay."""
        with self._cond:
            n = self._attempts.get(key, 0) + 1
            self._attempts[key] = n
            delay = min(10.0, 2.0 ** (n - 1))
            heapq.heappush(self._backoff, (self.clock.monotonic() + delay, key))
            return delay

    def done(self, key: str) -> None:
        """`key` was bound: forget its attempts."""
        with self._cond:
            self._attempts.pop(key, None)

    def move_unschedulable(self) -> None:
        with self._cond:
            for key in list(self._unschedulable):
                self._push(key)
            self._unschedulable.clear()

    def pop(self, timeout: float) -> str | None:
        """The next active key, waiting up to `timeout` seconds; None if none."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                self._promote()
                if self._active:
                    key = self._active.popleft()
                    self._in_active.discard(key)
                    return key
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(min(remaining, 0.5))

    def __len__(self) -> int:
        with self._cond:
            return len(self._active) + len(self._backoff) + len(self._unschedulable)

    def _push(self, key: str) -> None:
        if key not in self._in_active:
            self._in_active.add(key)
            self._active.append(key)
            self._cond.notify()

    def _promote(self) -> None:
        now = self.clock.monotonic()
        while self._backoff and self._backoff[0][0] <= now:
            _, key = heapq.heappop(self._backoff)
            self._push(key)
        for key, since in list(self._unschedulable.items()):
            if now - since >= self.flush_after:
                del self._unschedulable[key]
                self._push(key)
