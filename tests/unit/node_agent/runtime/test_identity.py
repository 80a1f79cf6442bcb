"""Pidfiles name a process by PID, start ticks and boot: a reused PID is never taken for
the process that wrote the file (`node_agent.runtime.identity`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from node_agent.runtime.identity import ProcRef, boot_id, read_pidfile, write_pidfile


def test_a_live_process_is_read_back(tmp_path: Path) -> None:
    pidfile = tmp_path / "me.pid"
    me = ProcRef.of(os.getpid())
    write_pidfile(pidfile, me)
    found = read_pidfile(pidfile)
    assert found is not None
    assert (found.pid, found.start_ticks, found.boot) == (me.pid, me.start_ticks, me.boot)


def test_same_pid_other_start_time_is_not_the_process(tmp_path: Path) -> None:
    # What a reused PID looks like: the PID is alive, but it started at another tick.
    pidfile = tmp_path / "reused.pid"
    me = ProcRef.of(os.getpid())
    pidfile.write_text(f"{me.pid} {me.start_ticks + 1} {me.boot}\n")
    assert read_pidfile(pidfile) is None
    pidfile.write_text(f"{me.pid} {me.start_ticks} other-boot\n")  # same ticks, an earlier boot
    assert read_pidfile(pidfile) is None


def test_gone_bare_missing_and_garbage_pidfiles(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    ref = ProcRef.of(child.pid)
    child.wait(10)
    gone = tmp_path / "gone.pid"
    write_pidfile(gone, ref)
    assert read_pidfile(gone) is None
    bare = tmp_path / "bare.pid"
    bare.write_text(f"{os.getpid()}\n")  # a bare PID is no identity
    assert read_pidfile(bare) is None
    garbage = tmp_path / "garbage.pid"
    garbage.write_text(f"x y {boot_id()}\n")
    assert read_pidfile(garbage) is None
    assert read_pidfile(tmp_path / "missing.pid") is None
