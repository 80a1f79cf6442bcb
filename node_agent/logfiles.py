"""Reading a container's log files: the last N lines across rotated files, complete
lines as they are written, and following the current file across rotation.  No HTTP
here: `node_agent/logserver.py` streams what these return.

Files: a container's log is a list of paths, oldest first (`x.log.2`, `x.log.1`,
`x.log`); the last is the current file, which need not exist yet.  `open_readers` opens
them all at once, so what is read is what they held at that moment; a rotated file that
is gone by then is skipped, and `tail_lines` counts lines across the files.

Lines: `LineReader` yields a line once its newline is in the file; a trailing partial
line is held back (`carry`) until its newline comes, or until `flush()` (at the end of a
stream, or when its file is rotated away).  A line longer than `MAX_LINE` is yielded in
pieces.  Lines are bytes, newline included; nothing is decoded.

Rotation while following: `Follower.poll()` reads what the current file gained since the
last poll, then looks at its path: when the path names a new file (rename-and-create),
the old file is read to its end and the new one is followed from its start; when the
file shrank (copy-truncate), it is followed from its start again.  Lines written to a
renamed file after the switch are not seen.  A current file that does not exist yet is
read from its start once it appears.  The caller decides how often to poll.

Ownership: files opened by `open_readers` are closed by the `ExitStack` it is given; a
`Follower` owns its reader's file (and any newer one it opens) until `close()`.  Readers
and followers are not thread-safe: each stream uses its own.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

BLOCK = 64 * 1024  # bytes read at a time (the log server also sends at most this in one chunk)
MAX_LINE = 64 * 1024  # a partial line longer than this is yielded without waiting for its end


def tail_start(fh: BinaryIO, end: int, n: int) -> tuple[int, int]:
    """Where the last `n` lines of `fh[0:end]` begin, and how many lines that is (fewer
    than `n` when the file has fewer).  A final line without a newline counts."""
    if n == 0 or end == 0:
        return end, 0
    fh.seek(end - 1)
    pos = end - 1 if fh.read(1) == b"\n" else end
    found = 0
    while pos > 0:
        size = min(BLOCK, pos)
        pos -= size
        fh.seek(pos)
        block = fh.read(size)
        index = len(block)
        while (index := block.rfind(b"\n", 0, index)) >= 0:
            found += 1
            if found == n:
                return pos + index + 1, n
    return 0, found + 1


class LineReader:
    """Complete lines of one open file from `offset` on, as they are read; a trailing
    partial line is held in `carry` until its newline comes (or `flush`).  `fh` None: the
    file does not exist (yet)."""

    def __init__(self, fh: BinaryIO | None, offset: int = 0) -> None:
        self.fh = fh
        self.offset = offset
        self.carry = b""

    def lines(self, end: int | None = None) -> Iterator[bytes]:
        """Lines up to byte `end` (default: what the file holds now)."""
        if self.fh is None:
            return
        self.fh.seek(self.offset)
        while end is None or self.offset < end:
            block = self.fh.read(BLOCK if end is None else min(BLOCK, end - self.offset))
            if not block:
                return
            self.offset += len(block)
            *complete, self.carry = (self.carry + block).split(b"\n")
            for line in complete:
                yield line + b"\n"
            if len(self.carry) >= MAX_LINE:
                yield self.flush()

    def flush(self) -> bytes:
        carry, self.carry = self.carry, b""
        return carry


def open_log(path: Path) -> BinaryIO | None:
    try:
        return path.open("rb")
    except FileNotFoundError:
        return None


class Follower:
    """Follows the current log file at `path` by polling, across rotation (see the module
    docstring).  Owns its reader's file from then on: `close()` it."""

    def __init__(self, path: Path, reader: LineReader) -> None:
        self.path = path
        self.reader = reader

    def poll(self) -> list[bytes]:
        """Every complete line written since the last poll."""
        out = list(self.reader.lines())
        try:
            named = os.stat(self.path)
        except FileNotFoundError:  # between a rename and the new file's creation
            return out
        fh = self.reader.fh
        if fh is None:
            self.reader = LineReader(open_log(self.path))
        elif (named.st_ino, named.st_dev) != _identity(fh):
            out += self.reader.lines()  # the old file's last words
            out.append(self.reader.flush())
            fh.close()
            self.reader = LineReader(open_log(self.path))
        elif named.st_size < self.reader.offset:
            out.append(self.reader.flush())
            self.reader.offset = 0
        else:
            return out
        return out + list(self.reader.lines())

    def close(self) -> None:
        if self.reader.fh is not None:
            self.reader.fh.close()


def _identity(fh: BinaryIO) -> tuple[int, int]:
    st = os.fstat(fh.fileno())
    return st.st_ino, st.st_dev


def open_readers(files: list[Path], tail_lines: int | None,
                 stack: contextlib.ExitStack) -> list[tuple[LineReader, int]]:
    """A reader and an end offset per file, positioned so that together they read the
    last `tail_lines` lines (all lines when None).  Files are opened now, so what is read
    is what they held at this moment; a rotated file that is gone is skipped."""
    opened: list[tuple[BinaryIO | None, int]] = []
    for index, path in enumerate(files):
        fh = open_log(path)
        if fh is None and index < len(files) - 1:
            continue
        if fh is not None:
            stack.callback(fh.close)
        opened.append((fh, os.fstat(fh.fileno()).st_size if fh is not None else 0))
    starts = [0] * len(opened)
    if tail_lines is not None:
        need = tail_lines
        for index in range(len(opened) - 1, -1, -1):
            fh, end = opened[index]
            starts[index], got = tail_start(fh, end, need) if fh is not None else (0, 0)
            need -= got
    return [(LineReader(fh, start), end) for (fh, end), start in zip(opened, starts, strict=True)]
