"""Durable acknowledgement for pysyncobj, with group commit.

pysyncobj writes its journal through an mmap and never syncs it; its metadata (term,
vote) is written without fsync; its snapshot ("full dump") is written by a forked child
without fsync.  An acknowledged write could therefore vanish in a power loss.  This
module closes those gaps without forking pysyncobj:

- `DurableJournal` (a FileJournal) marks itself dirty on every change and makes all
  changes durable in one `sync()` (one fdatasync of the journal file).
- Its metadata store fsyncs the file and the directory before returning, so a vote or a
  term is on disk before any message that reflects it is sent.
- Before the journal forgets entries (log compaction or snapshot install), the dump that
  covers them is fsynced first; log compaction writes the kept entries to a new file
  and renames it over the journal, so a power loss never leaves a half-rewritten one.
- The member (see `member.py`) calls `sync()` at the start of every tick, before the
  leader counts its own log towards the commit index and before any follower
  acknowledgement (`next_node_idx`) that was held back during the tick leaves.  One
  fsync thus covers every entry appended since the previous tick: group commit.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pysyncobj.serializer as _serializer
import pysyncobj.syncobj as _syncobj
from pysyncobj.journal import (
    APP_NAME,
    APP_VERSION,
    FIRST_RECORD_OFFSET,
    JOURNAL_FORMAT_VERSION,
    NAME_SIZE,
    VERSION_SIZE,
    FileJournal,
    MetaStorer,
    ResizableFile,
)
from pysyncobj.pickle import dumps, loads, to_bytes

from raftstore.errors import StoreError


def _fsync(path: str, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_path(path: str) -> None:
    """fsync a file (if it exists) and its directory."""
    if os.path.exists(path):
        _fsync(path)
    fsync_dir(os.path.dirname(os.path.abspath(path)))


def fsync_dir(path: str) -> None:
    _fsync(path, os.O_RDONLY | os.O_DIRECTORY)


class CorruptMeta(StoreError):
    """The Raft metadata (term and vote) cannot be read: the member must not start."""


def read_meta(path: str) -> dict[str, Any]:
    """The Raft metadata in `path`: {} when the file does not exist (a new member);
    `CorruptMeta` when it exists but does not hold metadata.  Starting with an empty
    term and vote instead would let this member vote twice in a term it already voted in
    (two leaders).  The file is only ever replaced whole (storeMeta), so a corrupt one
    means the disk or someone else damaged it."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return {}
    try:
        meta = loads(data)
    except Exception as err:  # pickle raises many kinds: none may start the member
        meta, cause = None, f"{type(err).__name__}: {err}"
    else:
        cause = f"it holds {type(meta).__name__}, not the metadata"
    if not isinstance(meta, dict):
        raise CorruptMeta(
            f"{path} (the member's Raft term and vote) is corrupt ({cause}); refusing to start, "
            "since a member that forgot its vote could vote twice. Recover by removing this member "
            "(skiff store member remove NAME on a healthy member), moving its data directory "
            "aside, and adding it back as a new member (skiff store member add), which copies the "
            "data from the others (docs/operations.md)")
    return meta


class DurableMetaStorer(MetaStorer):  # type: ignore[misc]
    """Stores Raft metadata atomically and durably (write, fsync, rename, fsync dir)."""

    def getMeta(self) -> dict[str, Any]:  # pysyncobj's version leaks the file handle
        return read_meta(self.getPath())

    def storeMeta(self, meta: dict[str, Any]) -> None:
        path = self.getPath()
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(dumps(meta))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(os.path.dirname(os.path.abspath(path)))


class DurableJournal(FileJournal):  # type: ignore[misc]
    """A pysyncobj FileJournal whose changes become durable on `sync()`.

    Thread-safety: used only from the member's tick thread (as pysyncobj does).
    """

    def __init__(self, journal_file: str, dump_file: str) -> None:
        super().__init__(journal_file)
        self._path = journal_file
        self._FileJournal__metaStorer = DurableMetaStorer(journal_file + ".meta")
        self._dump_file = dump_file
        self.dirty = False
        self.syncs = 0
        self.sync_seconds = 0.0
        self.appended = 0
        self._cleared: list[tuple[bytes, int, int]] | None = None

    def add(self, command: bytes, idx: int, term: int) -> None:
        super().add(command, idx, term)
        self.dirty = True
        self.appended += 1
        if self._cleared is not None and len(self) == 2:
            self._keep_entries_after_snapshot(idx, term)

    def _keep_entries_after_snapshot(self, idx: int, term: int) -> None:
        # pysyncobj loads a snapshot by clearing the journal and adding the snapshot's
        # last two entries.  Raft (section 7) keeps the entries that follow the
        # snapshot's last entry when the log holds that entry with the same term: they
        # may be acknowledged writes that exist nowhere else (a member stopped after its
        # snapshot was renamed into place but before it compacted its journal).
        old, self._cleared = self._cleared or [], None
        for pos, (_, old_idx, old_term) in enumerate(old):
            if (old_idx, old_term) == (idx, term):
                for entry in old[pos + 1:]:
                    super().add(*entry)
                return

    def deleteEntriesFrom(self, entryFrom: int) -> None:
        super().deleteEntriesFrom(entryFrom)
        self.dirty = True

    def deleteEntriesTo(self, entryTo: int) -> None:
        """Drop entries before `entryTo` (log compaction) crash-safely.

        pysyncobj rewrites the journal in place (clear, then re-append the rest): a power
        loss in between would leave a journal that no longer parses.  Instead the kept
        entries go to a new file, which is fsynced and renamed over the old one, so the
        journal on disk is always either the old one or the new one.
        """
        fsync_path(self._dump_file)
        entries: list[tuple[bytes, int, int]] = getattr(self, "_FileJournal__journal")  # noqa: B009
        keep = entries[entryTo:]
        records = []
        for command, idx, term in keep:
            data = struct.pack("<QQ", idx, term) + to_bytes(command)
            size = struct.pack("<I", len(data))
            records.append(size + data + size)
        body = b"".join(records)
        header = (APP_NAME.ljust(NAME_SIZE, b"\0") + APP_VERSION.ljust(VERSION_SIZE, b"\0")
                  + struct.pack("<II", JOURNAL_FORMAT_VERSION, FIRST_RECORD_OFFSET + len(body)))
        tmp = self._path + ".compact"
        with open(tmp, "wb") as f:
            f.write(header + body)
            f.flush()
            os.fsync(f.fileno())
        old_file: ResizableFile = getattr(self, "_FileJournal__journalFile")  # noqa: B009
        old_file._destroy()
        os.replace(tmp, self._path)
        fsync_dir(os.path.dirname(os.path.abspath(self._path)))
        self._FileJournal__journalFile = ResizableFile(self._path)
        self._FileJournal__journal = keep
        self._FileJournal__currentOffset = FIRST_RECORD_OFFSET + len(body)
        self.dirty = False

    def clear(self) -> None:
        # Called before the journal drops entries a snapshot now covers: that snapshot
        # must be on disk before the only other copy of those entries goes away.
        fsync_path(self._dump_file)
        self._cleared = [self[i] for i in range(len(self))]
        super().clear()
        self.dirty = True

    def setCurrentTerm(self, term: int, votedForNodeId: Any) -> None:
        # The meta file also carries the commit index; never let it get ahead of the
        # entries on disk that it covers.
        self.sync()
        super().setCurrentTerm(term, votedForNodeId)

    def sync(self) -> bool:
        """Make every change so far durable; return True if an fsync was needed."""
        if not self.dirty:
            return False
        # fdatasync writes back the pages dirtied through the shared mapping as well, and
        # costs a fraction of msync over the whole (growing) mapping.
        started = time.perf_counter()
        os.fdatasync(self._FileJournal__journalFile._ResizableFile__f.fileno())
        self.sync_seconds += time.perf_counter() - started
        self.dirty = False
        self.syncs += 1
        return True


def _durable_replace(src: str, dst: str) -> None:
    """pysyncobj's snapshot rename, made durable: fsync the new file, rename, fsync dir.

    Runs in the forked snapshot child (and for snapshots received from the leader), so
    the tick thread never waits for a large snapshot to reach the disk.
    """
    _fsync(src)
    os.replace(src, dst)
    fsync_dir(os.path.dirname(os.path.abspath(dst)))


_serializer.atomicReplace = _durable_replace

_factory_lock = threading.Lock()


@contextlib.contextmanager
def durable_journals(dump_file: str) -> Iterator[None]:
    """While active, pysyncobj creates `DurableJournal`s for file journals.

    pysyncobj builds its journal inside SyncObj.__init__ with a module-level factory and
    offers no hook; swapping that factory for the duration of the constructor (under a
    lock) is the smallest seam that keeps pysyncobj unmodified.
    """
    with _factory_lock:
        original: Callable[..., Any] = _syncobj.createJournal

        def create(journal_file: str | None = None) -> Any:
            if journal_file is None:
                return original(journal_file)
            return DurableJournal(journal_file, dump_file)

        _syncobj.createJournal = create
        try:
            yield
        finally:
            _syncobj.createJournal = original
