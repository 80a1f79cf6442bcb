"""Load generators and checks shared by the store's integration tests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from raftstore.client import StoreClient, WatchEvent, prefix_end
from raftstore.errors import StoreError


@dataclass
class Writers:
    """Threads that each write unique keys `prefix/<writer>/<n>` once, through all endpoints.

    `acked` holds keys whose write was acknowledged; `unknown` those whose outcome the
    client could not learn before its deadline (they may or may not exist).
    """

    client: StoreClient
    prefix: bytes
    threads: int = 4
    acked: dict[bytes, int] = field(default_factory=dict)
    unknown: set[bytes] = field(default_factory=set)
    ack_times: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Writers:
        for w in range(self.threads):
            t = threading.Thread(target=self._run, args=(w,), daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def _run(self, w: int) -> None:
        n = 0
        while not self._stop.is_set():
            key = self.prefix + f"/{w}/{n:06d}".encode()
            n += 1
            try:
                rev = self.client.put(key, b"v" + key).revision
            except StoreError:
                with self._lock:
                    self.unknown.add(key)
                continue
            with self._lock:
                self.acked[key] = rev
                self.ack_times.append(time.monotonic())

    def stop(self) -> None:
        self._stop.set()
        for t in self._workers:
            t.join(30)

    def acked_after(self, moment: float) -> int:
        with self._lock:
            return sum(1 for t in self.ack_times if t > moment)


def check_writes(client: StoreClient, writers: Writers) -> None:
    """Every acknowledged key exists, at its acknowledged revision, written exactly once."""
    found = {kv.key: kv for kv in client.get(writers.prefix, prefix_end(writers.prefix)).kvs}
    lost = [k for k in writers.acked if k not in found]
    assert not lost, f"{len(lost)} acknowledged writes lost, e.g. {lost[:3]}"
    twice = [kv.key for kv in found.values() if kv.version != 1]
    assert not twice, f"{len(twice)} writes applied more than once, e.g. {twice[:3]}"
    moved = [k for k, rev in writers.acked.items() if found[k].mod_revision != rev]
    assert not moved, f"acknowledged revisions differ from stored ones: {moved[:3]}"
    phantom = [k for k in found if k not in writers.acked and k not in writers.unknown]
    assert not phantom, f"keys nobody wrote: {phantom[:3]}"


class WatchRecorder:
    """Collects a watch's events in a thread until stopped."""

    def __init__(self, client: StoreClient, prefix: bytes, start_revision: int) -> None:
        self.events: list[WatchEvent] = []
        self.error: Exception | None = None
        self._deadline = time.monotonic() + 120
        self._thread = threading.Thread(target=self._run, args=(client, prefix, start_revision),
                                        daemon=True)
        self._thread.start()

    def _run(self, client: StoreClient, prefix: bytes, start: int) -> None:
        try:
            for ev in client.watch(prefix, prefix_end(prefix), start_revision=start,
                                   deadline=self._deadline):
                self.events.append(ev)
        except Exception as err:
            self.error = err

    def wait_for_revision(self, revision: int, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.events and self.events[-1].revision >= revision:
                return
            time.sleep(0.05)
        raise AssertionError(f"watch did not reach revision {revision}: last "
                             f"{self.events[-1].revision if self.events else None}, error {self.error}")

    def stop(self) -> None:
        self._deadline = time.monotonic()
