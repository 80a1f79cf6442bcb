"""Container log files: the size-rotated writer the shim uses, and the hand-over of a
run's log to `previous.log` when the container restarts.

Naming follows logrotate/kubelet: `container.log` is being written, `container.log.1` is
the newest rotated file, `container.log.<max_files-1>` the oldest kept.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_FILES = 3


def rotated(path: Path, index: int) -> Path:
    """The `index`-th rotated file of `path` (0 is `path` itself)."""
    return path if index == 0 else path.with_name(f"{path.name}.{index}")


class RotatingLog:
    """An append-only log that never lets one file grow past `max_bytes`: a write that
    would overflow fills the current file, rotates, and continues in a fresh one.  Keeps
    `max_files` files in all (the current one included); older ones are deleted.

    Unbuffered, so readers (`skiff logs -f`) see output as soon as `write` returns.
    Single writer; not thread-safe.
    """

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_files: int = DEFAULT_MAX_FILES) -> None:
        if max_bytes < 1 or max_files < 1:
            raise ValueError("max_bytes and max_files must be at least 1")
        self.path = path
        self.max_bytes = max_bytes
        self.max_files = max_files
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self._size = os.fstat(self._fd).st_size

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            room = self.max_bytes - self._size
            if room <= 0:
                self._rotate()
                continue
            n = os.write(self._fd, view[:room])
            self._size += n
            view = view[n:]

    def close(self) -> None:
        os.close(self._fd)

    def _rotate(self) -> None:
        os.close(self._fd)
        for i in range(self.max_files - 1, 0, -1):
            with contextlib.suppress(FileNotFoundError):
                os.replace(rotated(self.path, i - 1), rotated(self.path, i))
        if self.max_files == 1:
            self.path.unlink(missing_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC,
                           0o640)
        self._size = 0


def rotated_files(path: Path) -> list[Path]:
    """The rotated files of `path` that exist, newest first."""
    found = [(int(p.name.rsplit(".", 1)[1]), p) for p in path.parent.glob(f"{path.name}.*")
             if p.name.rsplit(".", 1)[1].isdigit()]
    return [p for _, p in sorted(found)]


def hand_over_to_previous(current: Path, previous: Path) -> None:
    """Before a restart: the finished run's current log becomes `previous` (replacing the
    one before); its rotated files are deleted so the new run starts a clean series.
    Idempotent; a missing current log leaves no `previous` (it would be stale)."""
    try:
        os.replace(current, previous)
    except FileNotFoundError:
        previous.unlink(missing_ok=True)
    for path in rotated_files(current):
        path.unlink(missing_ok=True)
