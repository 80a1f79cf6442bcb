"""The revisioned key space: current keys, a bounded event history, historical reads.

Pure data structure: no clock, no I/O, no randomness; iteration is always in key order,
never in hash order, so every replica that applies the same writes holds the same state.

Revision rules (as in etcd): the store starts at revision 1; every write *batch* (a put,
a delete that deleted something, a txn with writes, a lease revoke that deleted keys)
adds exactly one revision, shared by all events of the batch.  Events of revision R are
retained while R >= `compact_revision`; a range at revision R is served while
R >= `compact_revision`, by undoing the retained events newer than R.
"""

from __future__ import annotations

import bisect
import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from raftstore.errors import MSG_COMPACTED, MSG_FUTURE_REV, CompactedError, FutureRevision

PUT = "PUT"
DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Event:
    """One change.  For DELETE, `kv` carries only key and the deletion's mod_revision."""

    type: str
    kv: KeyValue
    prev_kv: KeyValue | None


def in_range(k: bytes, key: bytes, range_end: bytes) -> bool:
    """etcd's key-range rule: empty range_end is one key; b'\\0' means 'key and above'."""
    if not range_end:
        return k == key
    if range_end == b"\0":
        return k >= key
    return key <= k < range_end


@dataclass(frozen=True, slots=True)
class RangeResult:
    kvs: list[KeyValue]
    count: int
    more: bool


def _event_bytes(ev: Event) -> int:
    """What one retained event costs, roughly: its keys and values."""
    prev = ev.prev_kv
    return 64 + len(ev.kv.key) + len(ev.kv.value) + (len(prev.key) + len(prev.value) if prev else 0)


class KeySpace:
    """Current keys in sorted order plus the event history, bounded by count
    (`max_history` events) and by size (`max_history_bytes` of keys and values): a few
    large values must not hold a member's memory hostage.

    Not thread-safe: the owner (the state machine) serialises writers and readers.
    """

    # Class-level defaults: snapshots pickled before the size bound existed load with them.
    max_history_bytes: int = 256 * 2**20
    _history_bytes: int | None = None  # None: not counted yet (e.g. an older snapshot)

    def __init__(self, max_history: int = 100_000, max_history_bytes: int = 256 * 2**20) -> None:
        self.keys: dict[bytes, KeyValue] = {}
        self._sorted: list[bytes] = []
        self.revision = 1
        self.compact_revision = 1
        self.history: deque[Event] = deque()
        self.max_history = max_history
        self.max_history_bytes = max_history_bytes
        self._history_bytes = 0
        self._batch_open = False

    # ---- writes -------------------------------------------------------------------
    def begin(self) -> None:
        """Start a write batch; its first write takes revision+1."""
        self._batch_open = False

    def _batch_revision(self) -> int:
        if not self._batch_open:
            self.revision += 1
            self._batch_open = True
        return self.revision

    def end(self) -> None:
        """Close a write batch and trim the history to its bound (whole revisions only)."""
        self._batch_open = False
        self._trim()

    def put(self, key: bytes, value: bytes, lease: int) -> tuple[KeyValue, KeyValue | None]:
        rev = self._batch_revision()
        prev = self.keys.get(key)
        if prev is None:
            kv = KeyValue(key, value, rev, rev, 1, lease)
            bisect.insort(self._sorted, key)
        else:
            kv = KeyValue(key, value, prev.create_revision, rev, prev.version + 1, lease)
        self.keys[key] = kv
        self._remember(Event(PUT, kv, prev))
        return kv, prev

    def delete(self, key: bytes) -> KeyValue | None:
        prev = self.keys.pop(key, None)
        if prev is None:
            return None
        rev = self._batch_revision()
        del self._sorted[bisect.bisect_left(self._sorted, key)]
        self._remember(Event(DELETE, KeyValue(key, b"", 0, rev, 0, 0), prev))
        return prev

    @property
    def history_bytes(self) -> int:
        """The size of the retained events (counted once after loading an old snapshot)."""
        if self._history_bytes is None:
            self._history_bytes = sum(_event_bytes(ev) for ev in self.history)
        return self._history_bytes

    def _remember(self, ev: Event) -> None:
        self._history_bytes = self.history_bytes + _event_bytes(ev)
        self.history.append(ev)

    def _forget_oldest(self) -> None:
        self._history_bytes = self.history_bytes - _event_bytes(self.history.popleft())

    def compact(self, revision: int) -> None:
        """Forget history older than `revision` (caller validated the bounds)."""
        while self.history and self.history[0].kv.mod_revision < revision:
            self._forget_oldest()
        self.compact_revision = revision

    def _trim(self) -> None:
        while self.history and (len(self.history) > self.max_history
                                or self.history_bytes > self.max_history_bytes):
            oldest = self.history[0].kv.mod_revision
            if oldest >= self.revision:
                break  # never the newest revision: reads and watches at it must stay served
            while self.history and self.history[0].kv.mod_revision == oldest:
                self._forget_oldest()
            self.compact_revision = max(self.compact_revision, oldest + 1)

    # ---- reads --------------------------------------------------------------------
    def select(self, key: bytes, range_end: bytes) -> list[bytes]:
        """Current keys in the range, sorted."""
        if not range_end:
            return [key] if key in self.keys else []
        lo = bisect.bisect_left(self._sorted, key)
        if range_end == b"\0":
            return self._sorted[lo:]
        hi = bisect.bisect_left(self._sorted, range_end)
        return self._sorted[lo:hi] if hi > lo else []

    def check_revision(self, revision: int) -> None:
        if revision > self.revision:
            raise FutureRevision(MSG_FUTURE_REV)
        if 0 < revision < self.compact_revision:
            raise CompactedError(MSG_COMPACTED, compact_revision=self.compact_revision)

    def range(self, key: bytes, range_end: bytes, revision: int = 0, limit: int = 0) -> RangeResult:
        """Keys in [key, range_end) as of `revision`, sorted by key, at most `limit` of them.

        As in etcd, a revision <= 0 means now and a limit <= 0 means no limit.
        """
        self.check_revision(revision)
        if revision <= 0 or revision == self.revision:
            names = self.select(key, range_end)
            found = [self.keys[k] for k in names]
        else:
            found = self._range_at(key, range_end, revision)
        count = len(found)
        if limit > 0 and count > limit:
            return RangeResult(found[:limit], count, True)
        return RangeResult(found, count, False)

    def _range_at(self, key: bytes, range_end: bytes, revision: int) -> list[KeyValue]:
        # The value of a key at `revision` is the prev_kv of the first later event on it.
        overlay: dict[bytes, KeyValue | None] = {}
        for ev in self._events_after(revision):
            k = ev.kv.key
            if k not in overlay and in_range(k, key, range_end):
                overlay[k] = ev.prev_kv
        result = {k: self.keys[k] for k in self.select(key, range_end) if k not in overlay}
        for k, kv in overlay.items():
            if kv is not None:
                result[k] = kv
        return [result[k] for k in sorted(result)]

    def _events_after(self, revision: int) -> Iterator[Event]:
        # History is in revision order; skip to the first event newer than `revision`.
        # islice walks the deque once; indexing it per element would be quadratic.
        yield from itertools.islice(self.history, self._first_index_at_or_after(revision + 1), None)

    def _first_index_at_or_after(self, revision: int) -> int:
        lo, hi = 0, len(self.history)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.history[mid].kv.mod_revision < revision:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def events_from(self, start: int, key: bytes, range_end: bytes, limit: int = 1000) -> list[Event]:
        """Events with revision >= start on the range, whole revisions, at most ~limit events.

        Raises CompactedError when `start` is older than the retained history.
        """
        if start < self.compact_revision:
            raise CompactedError(MSG_COMPACTED, compact_revision=self.compact_revision)
        out: list[Event] = []
        last_rev = 0
        for ev in itertools.islice(self.history, self._first_index_at_or_after(start), None):
            if len(out) >= limit and ev.kv.mod_revision != last_rev:
                break
            if in_range(ev.kv.key, key, range_end):
                out.append(ev)
                last_rev = ev.kv.mod_revision
        return out

    def content_items(self) -> Iterable[KeyValue]:
        return (self.keys[k] for k in self._sorted)

