"""A queue of keys to reconcile: each key at most once in the queue, never handed to
two workers at once, re-added with back-off after a failure.  Thread-safe.

Due times (`add_after`, `retry`) are read from the injected `Clock`, so a test moves
them with a `FakeClock`; the blocking `get(timeout)` waits in real time (it is a
thread's wait, with its own deadline), as client-go's delaying queue does.
"""

from __future__ import annotations

import heapq
import threading
import time

from control_plane.client.clock import Clock, SystemClock


class WorkQueue:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self._queue: list[str] = []
        self._queued: set[str] = set()
        self._busy: set[str] = set()
        self._dirty: set[str] = set()  # re-added while busy: queue again when done
        self._later: list[tuple[float, str]] = []
        self._failures: dict[str, int] = {}
        self._cond = threading.Condition()

    def add(self, key: str) -> None:
        with self._cond:
            if key in self._busy:
                self._dirty.add(key)
            elif key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)
                self._cond.notify()

    def add_after(self, key: str, delay: float) -> None:
        with self._cond:
            heapq.heappush(self._later, (self.clock.monotonic() + delay, key))
            self._cond.notify()

    def retry(self, key: str) -> float:
        """Queue `key` again after an exponential back-off (5 ms doubling to 30 s)."""
        with self._cond:
            n = self._failures.get(key, 0) + 1
            self._failures[key] = n
        delay = min(30.0, 0.005 * 2.0 ** n)
        self.add_after(key, delay)
        return delay

    def forget(self, key: str) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def get(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                due = self.clock.monotonic()
                while self._later and self._later[0][0] <= due:
                    _, key = heapq.heappop(self._later)
                    self._cond.release()
                    try:
                        self.add(key)
                    finally:
                        self._cond.acquire()
                if self._queue:
                    key = self._queue.pop(0)
                    self._queued.discard(key)
                    self._busy.add(key)
                    return key
                now = time.monotonic()
                if now >= deadline:
                    return None
                wait = deadline - now
                if self._later:
                    wait = min(wait, self._later[0][0] - due)
                self._cond.wait(max(0.001, wait))

    def done(self, key: str) -> None:
        with self._cond:
            self._busy.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                self._queued.add(key)
                self._queue.append(key)
                self._cond.notify()
