"""One container's cgroup: limits, joining it, its OOM counters, its processes, removal.

On cgroup v1 a container has one directory per controller hierarchy (`memory`, `cpu`);
on v2 it has a single directory in the unified hierarchy.  Host detection (which
hierarchies exist and may be used) is in `cgroups.py`; this module only acts on the
directories it is given.

Why the container process joins by itself: the shim forks, the child writes `0` to each
`cgroup.procs` (moving itself) and only then execs the command, so not one instruction
of the command runs outside its limits, and the shim stays outside the cgroup (its
memory is not charged to the container and the OOM killer never picks it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Version = Literal["v1", "v2"]

CFS_PERIOD_US = 100_000
MIN_CFS_QUOTA_US = 1_000  # the kernel rejects smaller quotas (Kubernetes clamps the same way)


class CgroupError(Exception):
    """A cgroup could not be created, limited or removed; the message says which file."""


def cpu_quota_us(millicores: int, period_us: int = CFS_PERIOD_US) -> int:
    """CFS quota for `millicores` per `period_us` (1000m = one CPU), at least 1 ms."""
    return max(MIN_CFS_QUOTA_US, millicores * period_us // 1000)


@dataclass(frozen=True)
class OomCounters:
    """A snapshot of what the kernel counted in a memory cgroup; None = not available."""

    oom_kill: int | None
    failcnt: int | None


def oom_killed(before: OomCounters, after: OomCounters, killed_by: int | None) -> bool:
    """Whether a run that ended by signal `killed_by` (None: it exited) was OOM-killed.

    The kernel's `oom_kill` counter is authoritative where it exists (v2 memory.events,
    v1 memory.oom_control since Linux 4.13).  Without it (old v1 kernels) a SIGKILL while
    `memory.failcnt` (times the limit was hit) rose is the best evidence there is.
    """
    if before.oom_kill is not None and after.oom_kill is not None:
        return after.oom_kill > before.oom_kill
    if killed_by == signal.SIGKILL and before.failcnt is not None and after.failcnt is not None:
        return after.failcnt > before.failcnt
    return False


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as e:
        raise CgroupError(f"cannot write {value!r} to {path}: {e.strerror or e}") from e


def _counter(path: Path, key: str) -> int | None:
    """The value of `key` in a flat-keyed cgroup file such as memory.events."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return None


@dataclass(frozen=True)
class ContainerCgroup:
    """The cgroup directories of one container.  Immutable and serialisable: the runtime
    creates it, the shim receives it as JSON in run.json."""

    version: Version
    dirs: tuple[Path, ...]
    memory_dir: Path | None  # where the memory controller's files are, if it is used
    cpu_dir: Path | None

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "dirs": [str(d) for d in self.dirs],
                "memory_dir": None if self.memory_dir is None else str(self.memory_dir),
                "cpu_dir": None if self.cpu_dir is None else str(self.cpu_dir)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContainerCgroup:
        mem, cpu = data.get("memory_dir"), data.get("cpu_dir")
        version: Version = "v2" if data["version"] == "v2" else "v1"
        return cls(version, tuple(Path(d) for d in data["dirs"]),
                   None if mem is None else Path(mem), None if cpu is None else Path(cpu))

    # -- creation -------------------------------------------------------------------

    def create(self, memory_limit: int | None, cpu_limit_m: int | None) -> None:
        """Make fresh directories and write the limits.  A directory left by an earlier
        run of the same container is emptied (its processes are SIGKILLed: that run is
        over) and recreated, so counters start at zero.  Raises `CgroupError`."""
        for d in self.dirs:
            if d.exists() and not self.remove_dir(d, timeout=5.0):
                raise CgroupError(f"cannot reset {d}: it still has processes or is busy")
            try:
                d.mkdir()
            except OSError as e:
                raise CgroupError(f"cannot create {d}: {e.strerror or e}") from e
        if memory_limit is not None and self.memory_dir is not None:
            self._limit_memory(self.memory_dir, memory_limit)
        if cpu_limit_m is not None and self.cpu_dir is not None:
            self._limit_cpu(self.cpu_dir, cpu_limit_m)

    def _limit_memory(self, d: Path, limit: int) -> None:
        if self.version == "v2":
            _write(d / "memory.max", str(limit))
            if (d / "memory.swap.max").exists():
                _write(d / "memory.swap.max", "0")
            if (d / "memory.oom.group").exists():  # the whole container dies together, as in k8s
                _write(d / "memory.oom.group", "1")
            return
        _write(d / "memory.limit_in_bytes", str(limit))
        memsw = d / "memory.memsw.limit_in_bytes"
        if memsw.exists():  # no swapping past the limit; may be refused if swap accounting is off
            with contextlib.suppress(CgroupError):
                _write(memsw, str(limit))

    def _limit_cpu(self, d: Path, millicores: int) -> None:
        quota = cpu_quota_us(millicores)
        if self.version == "v2":
            _write(d / "cpu.max", f"{quota} {CFS_PERIOD_US}")
            return
        _write(d / "cpu.cfs_period_us", str(CFS_PERIOD_US))
        _write(d / "cpu.cfs_quota_us", str(quota))

    # -- the running container ------------------------------------------------------

    def join(self) -> None:
        """Move the calling process into every directory of this cgroup.  Called in the
        container's process between fork and exec.  Raises `OSError`."""
        for d in self.dirs:
            with open(d / "cgroup.procs", "w") as f:
                f.write("0")

    def oom_counters(self) -> OomCounters:
        d = self.memory_dir
        if d is None:
            return OomCounters(None, None)
        if self.version == "v2":
            return OomCounters(_counter(d / "memory.events", "oom_kill"), None)
        try:
            failcnt: int | None = int((d / "memory.failcnt").read_text())
        except (OSError, ValueError):
            failcnt = None
        return OomCounters(_counter(d / "memory.oom_control", "oom_kill"), failcnt)

    def pids(self) -> set[int]:
        """Every process in the container's cgroup directories (empty if they are gone)."""
        found: set[int] = set()
        for d in self.dirs:
            found |= _procs(d)
        return found

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to every process still in the cgroup, including ones that left the
        container's process group (setsid).  A PID is signalled only while it is still a
        member, checked through a pidfd, so a reused PID is never hit."""
        for d in self.dirs:
            for pid in _procs(d):
                _signal_member(d, pid, sig)

    # -- removal --------------------------------------------------------------------

    def remove(self, timeout: float = 5.0) -> bool:
        """Kill what is left and rmdir every directory.  True when all are gone.  Idempotent."""
        return all([self.remove_dir(d, timeout) for d in self.dirs])

    def remove_dir(self, d: Path, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            for pid in _procs(d):
                _signal_member(d, pid, signal.SIGKILL)
            try:
                d.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError as e:
                if e.errno not in (errno.EBUSY, errno.ENOTEMPTY) or time.monotonic() > deadline:
                    return False
            time.sleep(0.02)


def _procs(d: Path) -> set[int]:
    try:
        return {int(x) for x in (d / "cgroup.procs").read_text().split()}
    except (OSError, ValueError):
        return set()


def _signal_member(d: Path, pid: int, sig: int) -> None:
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if pid in _procs(d):
            signal.pidfd_send_signal(fd, sig)
    except OSError:
        pass
    finally:
        os.close(fd)
