"""`skiff supervise`: the pidfile supervisor that runs the agent where systemd does not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from control_plane.devtools.procs import wait_for
from node_agent import supervisor

SKIFF = [sys.executable, "-m", "control_plane.cli.main"]


@pytest.fixture
def pidfile(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "run" / "svc.pid"
    try:
        yield path
    finally:
        supervisor.stop(path, timeout=10)


def child_of(proc: psutil.Process) -> psutil.Process:
    kids: list[psutil.Process] = []

    def found() -> bool:
        kids[:] = proc.children()
        return len(kids) == 1

    wait_for(found, 10, what="the supervised command")
    return kids[0]


def test_restarts_the_command_and_starts_once(pidfile: Path, tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    started, pid = supervisor.start(["sleep", "300"], pidfile, log, grace=2)
    assert started and int(pidfile.read_text().split()[0]) == pid  # PID, start ticks, boot id
    first = child_of(psutil.Process(pid))
    assert supervisor.start(["sleep", "300"], pidfile, log) == (False, pid)  # already running
    first.kill()
    wait_for(lambda: psutil.Process(pid).children() and psutil.Process(pid).children()[0].pid != first.pid,
             10, what="a restarted command")
    assert "sleep exited with -9; restarting in 1 s" in log.read_text()


def test_stop_ends_the_command_and_removes_the_pidfile(pidfile: Path, tmp_path: Path) -> None:
    _, pid = supervisor.start(["sleep", "300"], pidfile, tmp_path / "svc.log", grace=2)
    child = child_of(psutil.Process(pid))
    assert supervisor.stop(pidfile)
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert not pidfile.exists() and supervisor.running(pidfile) is None
    assert not supervisor.stop(pidfile)  # nothing to stop


def test_a_command_that_ignores_sigterm_is_killed_after_the_grace(pidfile: Path, tmp_path: Path) -> None:
    _, pid = supervisor.start(["sh", "-c", "trap '' TERM; sleep 300 & wait; sleep 300"], pidfile,
                              tmp_path / "svc.log", grace=1)
    child = child_of(psutil.Process(pid))
    assert supervisor.stop(pidfile)
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert "ignored SIGTERM for 1 s; killing it" in (tmp_path / "svc.log").read_text()


def test_a_stale_pidfile_of_another_process_is_not_trusted(pidfile: Path, tmp_path: Path) -> None:
    pidfile.parent.mkdir(parents=True)
    pidfile.write_text(f"{os.getpid()}\n")  # a live PID, but not a supervisor
    assert supervisor.running(pidfile) is None
    assert not supervisor.stop(pidfile)  # and never signalled
    started, pid = supervisor.start(["sleep", "300"], pidfile, tmp_path / "svc.log")
    assert started and pid != os.getpid()


def test_the_supervisor_survives_the_end_of_the_session_that_started_it(
    pidfile: Path, tmp_path: Path
) -> None:
    # Like an SSH session: a shell in its own session starts the supervisor, then its
    # whole process group gets SIGHUP.
    shell = subprocess.Popen([*SKIFF, "supervise", "start", "--pidfile", str(pidfile), "--log",
                              str(tmp_path / "svc.log"), "--", "sleep", "300"],
                             start_new_session=True, stdout=subprocess.PIPE, text=True)
    out, _ = shell.communicate(timeout=60)
    assert out.startswith("started (pid ")
    with pytest.raises(ProcessLookupError):
        os.killpg(shell.pid, signal.SIGHUP)  # the group is gone: the supervisor left it
    proc = supervisor.running(pidfile)
    assert proc is not None and os.getsid(proc.pid) != shell.pid


def test_the_cli_reports_status_with_exit_codes(pidfile: Path, tmp_path: Path) -> None:
    status = [*SKIFF, "supervise", "status", "--pidfile", str(pidfile)]
    assert subprocess.run(status, capture_output=True, timeout=60, check=False).returncode == 3
    supervisor.start(["sleep", "300"], pidfile, tmp_path / "svc.log")
    done = subprocess.run([*status, "-o", "json"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and '"running": true' in done.stdout
    bad = subprocess.run([*SKIFF, "supervise", "start", "--pidfile", str(pidfile), "--log", "x"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 1 and "give the command after `--`" in bad.stderr
