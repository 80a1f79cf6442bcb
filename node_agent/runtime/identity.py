"""Identifying a process by PID *and* start time, and signalling it only if it is still
the same process.

PIDs wrap (pid_max is 32768 on the lab hosts), and without a PID namespace every process
on the machine is visible, so a bare PID read from a pidfile is not an identity.  A
`ProcRef` pairs the PID with the process's start time in clock ticks since boot
(`/proc/<pid>/stat` field 22), which never changes for the life of a process and, unlike
an epoch time, does not move when the wall clock is stepped.  Ticks since boot repeat
across reboots, so the boot id (`/proc/sys/kernel/random/boot_id`) is part of the
identity too.  `create_time` (psutil's epoch seconds) is kept alongside for humans and
for `ContainerState.started_at`.

Signals go through a pidfd opened *before* the start time is checked, so the check and
the signal refer to the same process even if it dies and its PID is reused in between.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from control_plane.client.atomicfile import write_atomic


def start_ticks(pid: int) -> int:
    """The start time of `pid` in clock ticks since boot.  Raises `ProcessLookupError`
    when no such process exists."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        raise ProcessLookupError(pid) from None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return int(fields[19])  # field 22 overall; fields[0] is field 3 (state)


@functools.cache
def boot_id() -> str:
    """This boot's random id (constant until the machine reboots)."""
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def _state(pid: int) -> bytes:
    raw = Path(f"/proc/{pid}/stat").read_bytes()
    return raw[raw.rindex(b")") + 2 :].split()[0]


@dataclass(frozen=True)
class ProcRef:
    """One specific process: PID plus start time (plus boot).  Immutable; safe to share."""

    pid: int
    start_ticks: int
    create_time: float  # epoch seconds (psutil), informative only
    boot: str

    @classmethod
    def of(cls, pid: int) -> ProcRef:
        """The process now running as `pid`.  Raises `ProcessLookupError` if there is none."""
        ticks = start_ticks(pid)
        try:
            created = psutil.Process(pid).create_time()
        except psutil.NoSuchProcess:
            raise ProcessLookupError(pid) from None
        return cls(pid, ticks, created, boot_id())

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "start_ticks": self.start_ticks, "create_time": self.create_time,
                "boot_id": self.boot}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcRef:
        return cls(int(data["pid"]), int(data["start_ticks"]), float(data["create_time"]),
                   str(data["boot_id"]))

    def exists(self) -> bool:
        """True while this very process exists, including as an unreaped zombie."""
        try:
            return self.boot == boot_id() and start_ticks(self.pid) == self.start_ticks
        except (ProcessLookupError, OSError, ValueError, IndexError):
            return False

    def running(self) -> bool:
        """True while this very process exists and is not a zombie."""
        try:
            return self.exists() and _state(self.pid) != b"Z"
        except (OSError, ValueError, IndexError):
            return False

    def signal(self, sig: int) -> bool:
        """Send `sig` to this process if it is still this process.  Returns whether it was sent."""
        with self._pidfd() as fd:
            if fd is None:
                return False
            try:
                signal.pidfd_send_signal(fd, sig)
            except ProcessLookupError:
                return False
            return True

    def signal_group(self, sig: int) -> bool:
        """Send `sig` to the process group this process leads, if the leader is still this
        process (a group cannot outlive the reuse of its leader's PID while the leader
        exists).  Returns whether it was sent."""
        with self._pidfd() as fd:
            if fd is None:
                return False
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                return False
            return True

    @contextlib.contextmanager
    def _pidfd(self) -> Iterator[int | None]:
        # Open first, then verify: from here on, the fd pins the process we verified.
        try:
            fd = os.pidfd_open(self.pid)
        except (ProcessLookupError, OSError):
            yield None
            return
        try:
            yield fd if self.exists() else None
        finally:
            os.close(fd)


def write_pidfile(path: Path, ref: ProcRef) -> None:
    """Record `ref` in `path` atomically as `PID START_TICKS BOOT_ID` (one line)."""
    write_atomic(path, f"{ref.pid} {ref.start_ticks} {ref.boot}\n", fsync=False)


def read_pidfile(path: Path) -> ProcRef | None:
    """The process a pidfile names, if it is still that very process (PID, start ticks
    and boot all match) and not a zombie; None for a missing, stale or unreadable file.

    A bare PID (what `sshd -D` or an older Skiff wrote) is not an identity: None.
    """
    try:
        fields = path.read_text().split()
        if len(fields) != 3:
            return None
        pid, ticks, boot = int(fields[0]), int(fields[1]), fields[2]
        ref = ProcRef(pid, ticks, psutil.Process(pid).create_time(), boot)
    except (OSError, ValueError, psutil.Error):
        return None
    return ref if ref.running() else None
