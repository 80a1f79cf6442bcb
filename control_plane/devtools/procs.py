"""Processes we start: pidfiles that record the process's identity, stop by PID only.

PIDs wrap and, in the lab, every host shares one process table, so a bare PID is not
proof of identity: a pidfile holds the PID, its start time in clock ticks since boot and
the boot id (`node_agent.runtime.identity`, the one definition of a process's identity),
and a signal goes through a pidfd opened before that identity is checked.  Nothing here
finds processes by name.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from node_agent.runtime.identity import ProcRef, read_pidfile, write_pidfile

# Popen objects of our children: kept so they are not collected while running (and so
# we can reap them); keyed by PID.
_children: dict[int, subprocess.Popen[bytes]] = {}

log = logging.getLogger(__name__)


def start(argv: Sequence[str], pidfile: Path, logfile: Path, env: dict[str, str] | None = None) -> int:
    """Start `argv` in its own session, output to `logfile`; write `pidfile`; return the PID."""
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "ab") as log:
        proc = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    _children[proc.pid] = proc
    write_pidfile(pidfile, ProcRef.of(proc.pid))
    return proc.pid


def read(pidfile: Path) -> psutil.Process | None:
    """The live process a pidfile names, or None if it is gone or the PID was reused."""
    ref = read_pidfile(pidfile)
    if ref is None:
        return None
    try:
        return psutil.Process(ref.pid)
    except psutil.Error:
        return None


def signal_pidfile(pidfile: Path, sig: int) -> bool:
    """Send `sig` to the pidfile's process (if it is still that process)."""
    ref = read_pidfile(pidfile)
    return ref is not None and ref.signal(sig)


def stop(pidfile: Path, timeout: float = 10.0) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL; remove the pidfile."""
    proc = read(pidfile)
    if proc is not None:
        try:
            proc.terminate()
            if not _wait_gone(proc, timeout):
                log.warning("%s (pid %d) ignored SIGTERM for %.0f s; killing it", pidfile.name, proc.pid,
                            timeout)
                proc.kill()
                _wait_gone(proc, 5)
        except psutil.Error:
            pass
    reap(proc)
    pidfile.unlink(missing_ok=True)


def stop_all(pidfiles: Sequence[Path], timeout: float = 10.0) -> None:
    """`stop` every pidfile at once: the whole takes about the slowest one, not the sum."""
    from concurrent.futures import ThreadPoolExecutor

    if pidfiles:
        with ThreadPoolExecutor(min(16, len(pidfiles))) as pool:
            list(pool.map(lambda p: stop(p, timeout), pidfiles))


def _wait_gone(proc: psutil.Process, timeout: float) -> bool:
    """Wait until `proc` has exited (a zombie counts: another process may be its
    parent, and only the parent can reap it); False after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        except psutil.Error:
            pass
        child = _children.get(proc.pid)
        if child is not None and child.poll() is not None:
            return True
        time.sleep(0.05)
    return False


def kill(pidfile: Path) -> None:
    """SIGKILL now (a crash), and wait until the process is gone."""
    proc = read(pidfile)
    if proc is None:
        return
    try:
        proc.send_signal(signal.SIGKILL)
        _wait_gone(proc, 10)
    except psutil.Error:
        pass
    reap(proc)


def reap(proc: psutil.Process | None) -> None:
    # Our own children become zombies until waited for; collect them if they are ours.
    if proc is None:
        return
    child = _children.pop(proc.pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(5)


def wait_for(predicate: object, timeout: float, interval: float = 0.05, what: str = "condition") -> None:
    """Poll `predicate()` until true; raise TimeoutError naming `what` after `timeout` s.

    An exception from the predicate means "not yet" (a server may still be starting;
    a test's helper may assert that a command succeeded), so it is retried; on a
    time-out the last one is chained to the TimeoutError, so its traceback is shown
    rather than lost.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():  # type: ignore[operator]
                return
        except Exception as err:  # the condition may fail while things start up
            last_error = err
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}"
                       + (f" (last error: {type(last_error).__name__}: {last_error})" if last_error else "")
                       ) from last_error
