"""The API server's compactor: each tick compacts to the revision of the tick before."""

from __future__ import annotations

from dataclasses import dataclass

from control_plane.apiserver.compactor import Compactor
from raftstore.errors import CompactedError, Unavailable


@dataclass
class Found:
    revision: int


class FakeStore:
    def __init__(self) -> None:
        self.revision, self.compacted_to, self.calls = 10, 1, 0
        self.down = False

    def get(self, key: bytes) -> Found:
        if self.down:
            raise Unavailable("no leader")
        return Found(self.revision)

    def compact(self, revision: int) -> int:
        self.calls += 1
        if revision <= self.compacted_to:
            raise CompactedError()
        self.compacted_to = revision
        return self.revision


def test_each_tick_compacts_to_the_previous_ticks_revision() -> None:
    store = FakeStore()
    c = Compactor(store, interval=300)
    c.tick()
    assert store.calls == 0 and c.previous == 10  # the first tick only remembers
    store.revision = 50
    c.tick()
    assert store.compacted_to == 10 and c.previous == 50
    store.revision = 90
    c.tick()
    assert store.compacted_to == 50


def test_another_api_server_compacting_first_or_a_store_outage_is_harmless() -> None:
    store = FakeStore()
    c = Compactor(store)
    c.tick()
    store.compacted_to, store.revision = 40, 60  # someone else compacted past 10
    c.tick()
    assert store.compacted_to == 40 and c.previous == 60
    store.down = True
    c.tick()  # logged, not raised
    assert c.previous == 60
