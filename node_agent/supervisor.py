"""A pidfile supervisor: keeps one command running on a host without systemd as PID 1.

Lab hosts (network namespaces, reached over SSH) and containers have no init system, so
the agent runs under `skiff supervise`: a small detached process that restarts the
command when it exits and stops it on SIGTERM.  It is what systemd's `Restart=always`
does, and no more.

Contracts:
- `start()` returns at once if a supervisor for the same pidfile is alive (checked by
  PID, start time *and* command line, never by process name: in the lab every host shares one
  process table).  Otherwise it starts one in a new session (so the end of the SSH
  session that started it does not end it) and returns after it wrote its pidfile.
- The supervisor restarts the command after it exits, waiting 1 s, doubling up to
  30 s; a run that lasted a minute resets the wait.  Its own lines go to the same log
  as the command's output, prefixed `supervisor:`.
- On SIGTERM or SIGINT it sends SIGTERM to the command, waits up to `grace` seconds,
  then SIGKILLs it; it removes its pidfile and exits 0.
- `stop()` signals the supervisor by PID (after the same check) and waits until it
  is gone; it is a no-op when none runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import psutil

from node_agent.runtime.identity import ProcRef, read_pidfile, write_pidfile

MIN_BACKOFF, MAX_BACKOFF, HEALTHY_RUN = 1.0, 30.0, 60.0
MARK = "supervise"
LAUNCH = "import subprocess, sys; subprocess.Popen(sys.argv[1:], start_new_session=True, close_fds=True)"


def running(pidfile: Path) -> psutil.Process | None:
    """The live supervisor that owns `pidfile`, or None (a stale pidfile is ignored).

    Identity is the pidfile's PID, start ticks and boot (`identity.read_pidfile`); a
    pidfile with a bare PID (written by an older Skiff: upgrades meet them) is checked by
    PID and command line alone.  Either way the command line must name this pidfile.
    """
    try:
        fields = pidfile.read_text().split()
        if len(fields) == 1:
            pid = int(fields[0])
        else:
            ref = read_pidfile(pidfile)
            if ref is None:
                return None
            pid = ref.pid
        proc = psutil.Process(pid)
        cmdline = proc.cmdline()
    except (OSError, ValueError, IndexError, psutil.Error):
        return None
    if MARK not in cmdline or str(pidfile) not in cmdline or proc.status() == psutil.STATUS_ZOMBIE:
        return None  # the PID was reused by another process
    return proc


def start(argv: Sequence[str], pidfile: Path, logfile: Path, grace: float = 30.0,
          timeout: float = 10.0) -> tuple[bool, int]:
    """Start a supervisor for `argv` unless one runs; returns (started now, its PID).
    Raises RuntimeError (or OSError, subprocess.SubprocessError) if it does not come up."""
    current = running(pidfile)
    if current is not None:
        return False, current.pid
    pidfile = pidfile.resolve()
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        pidfile.unlink()
    supervisor = [sys.executable, "-m", "control_plane.cli.main", MARK, "run", "--pidfile", str(pidfile),
                  "--log", str(logfile), "--grace", str(grace), "--", *argv]
    # A double fork: the launcher starts the supervisor in a new session and exits at
    # once, so the supervisor belongs to init, not to us (no zombie, no SIGHUP).
    with logfile.open("ab") as log:
        subprocess.run([sys.executable, "-c", LAUNCH, *supervisor], stdin=subprocess.DEVNULL, stdout=log,
                       stderr=subprocess.STDOUT, close_fds=True, timeout=timeout, check=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = running(pidfile)
        if found is not None:
            return True, found.pid
        time.sleep(0.05)
    raise RuntimeError(f"the supervisor did not write {pidfile} within {timeout:.0f} s; see {logfile}")


def stop(pidfile: Path, timeout: float = 40.0) -> bool:
    """Stop the supervisor (and so its command); True if one was running."""
    proc = running(pidfile)
    if proc is None:
        return False
    with contextlib.suppress(psutil.Error):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except psutil.TimeoutExpired:
        with contextlib.suppress(psutil.Error):
            proc.kill()  # its command may outlive it: the caller sees it in its own checks
    return True


class Supervisor:
    """The loop inside the detached process (`skiff supervise run`)."""

    def __init__(self, argv: Sequence[str], pidfile: Path, logfile: Path, grace: float) -> None:
        self.argv, self.pidfile, self.logfile, self.grace = list(argv), pidfile, logfile, grace
        self.stopping = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None

    def say(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with self.logfile.open("a") as log:
            log.write(f"{stamp} supervisor: {message}\n")

    def _on_signal(self, signum: int, _: FrameType | None) -> None:
        self.stopping.set()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the SSH session that started us may end
        write_pidfile(self.pidfile, ProcRef.of(os.getpid()))
        backoff = MIN_BACKOFF
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                code = self._run_once()
                if self.stopping.is_set():
                    break
                if time.monotonic() - started >= HEALTHY_RUN:
                    backoff = MIN_BACKOFF
                self.say(f"{self.argv[0]} exited with {code}; restarting in {backoff:.0f} s")
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(self.pidfile.read_text().split()[0]) == os.getpid():
                    self.pidfile.unlink()
        self.say("stopped")
        return 0

    def _run_once(self) -> int | None:
        with self.logfile.open("ab") as log:
            try:
                self.child = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                              stderr=subprocess.STDOUT, close_fds=True)
            except OSError as err:
                self.say(f"cannot start {self.argv[0]}: {err}")
                return None
        self.say(f"started {self.argv[0]} (pid {self.child.pid})")
        while self.child.poll() is None and not self.stopping.is_set():
            self.stopping.wait(0.5)
        if self.child.poll() is None:  # we are stopping: the command goes first
            self.child.terminate()
            try:
                self.child.wait(self.grace)
            except subprocess.TimeoutExpired:
                self.say(f"{self.argv[0]} ignored SIGTERM for {self.grace:.0f} s; killing it")
                self.child.kill()
                self.child.wait()
        return self.child.returncode
