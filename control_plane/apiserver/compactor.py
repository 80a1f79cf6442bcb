"""Compaction of the store's history, as kube-apiserver does (`--etcd-compaction-interval`,
default 5 minutes): at every tick, compact to the revision seen at the previous tick.

Without it the store keeps every change up to its own bounds (100,000 events or 256 MiB),
and under churn a member's memory grows to match.  With it a watch or a list may resume
from at most one interval back; older resourceVersions get 410 Gone, and clients list
again (the informer does).  Every API server runs one: compacting to a revision that
another already passed is a harmless no-op (the store answers "compacted").

Contract: `tick()` never raises; a failure is logged and the next tick tries again.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from raftstore.errors import CompactedError, StoreError

log = logging.getLogger(__name__)
DEFAULT_INTERVAL = 300.0


class _Store(Protocol):
    def get(self, key: bytes) -> object: ...

    def compact(self, revision: int) -> int: ...


class Compactor:
    def __init__(self, store: _Store, interval: float = DEFAULT_INTERVAL) -> None:
        self.store, self.interval = store, interval
        self.previous = 0  # the revision seen at the previous tick
        self.compacted = 0  # the last revision this compactor compacted to
        self._stop = threading.Event()

    def tick(self) -> None:
        """Compact to the previous tick's revision, then remember the current one."""
        try:
            current = int(getattr(self.store.get(b"/registry/health"), "revision", 0))
            if self.previous:
                try:
                    self.store.compact(self.previous)
                    self.compacted = self.previous
                except CompactedError:
                    pass  # another API server compacted past it already
            self.previous = current
        except StoreError as err:
            log.info("compaction skipped: %s", err.message)

    def run(self) -> None:
        """Tick every `interval` seconds until `stop()` (blocks; run it in a thread)."""
        while not self._stop.wait(self.interval):
            self.tick()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="compactor", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
