"""`devtools.procs`: pidfiles that survive PID reuse, stop by PID, waits that report."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from control_plane.devtools import procs
from node_agent.runtime.identity import ProcRef


def test_start_read_stop(tmp_path: Path) -> None:
    pidfile = tmp_path / "sleep.pid"
    pid = procs.start([sys.executable, "-c", "import time; time.sleep(60)"], pidfile, tmp_path / "log")
    try:
        proc = procs.read(pidfile)
        assert proc is not None and proc.pid == pid
    finally:
        procs.stop(pidfile, timeout=5)
    assert not pidfile.exists() and procs.read(pidfile) is None


def test_a_pidfile_whose_pid_was_reused_is_not_signalled(tmp_path: Path) -> None:
    # Our own PID with another start time: what a reused PID looks like.
    me = ProcRef.of(os.getpid())
    pidfile = tmp_path / "old.pid"
    pidfile.write_text(f"{me.pid} {me.start_ticks - 1} {me.boot}\n")
    assert procs.read(pidfile) is None
    assert procs.signal_pidfile(pidfile, 0) is False


def test_wait_for_retries_errors_and_chains_the_last_one() -> None:
    calls = []

    def flaky() -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("not up yet")
        return True

    procs.wait_for(flaky, 5, interval=0.01)
    assert len(calls) == 3

    def never() -> bool:
        raise KeyError("status")

    with pytest.raises(TimeoutError, match="KeyError") as info:
        procs.wait_for(never, 0.05, interval=0.01, what="never")
    assert isinstance(info.value.__cause__, KeyError)


def test_wait_for_shows_a_failing_assertion_on_time_out() -> None:
    def check() -> bool:
        raise AssertionError("rc 1: no such pod")

    with pytest.raises(TimeoutError, match="AssertionError: rc 1: no such pod") as info:
        procs.wait_for(check, 0.05, interval=0.01, what="the pod")
    assert isinstance(info.value.__cause__, AssertionError)
