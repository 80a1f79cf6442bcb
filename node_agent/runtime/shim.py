"""The per-container supervisor: `python -m node_agent.runtime.shim --dir STATE`.

One shim per run of a container.  The runtime launches it in a new session; it forks
once more and the launched process exits, so the shim is re-parented to init (or the
nearest subreaper) and lives on, unaffected, when the agent stops or crashes.  It:

1. reads `run.json` (a `ShimConfig`: argv, env, working dir, cgroup, log settings);
2. starts the command as the leader of a new process group, stdin `/dev/null`,
   stdout+stderr into a pipe; in the child, before exec, it joins the cgroup;
3. writes `pid.json` (its own and the container's PID + start time), then reports one
   JSON line on its stdout to the runtime: `{"pid": ..., "started_at": ...}` or
   `{"error": ...}` if the command could not be executed;
4. copies the pipe into `container.log`, rotating by size;
5. when the command exits: SIGKILLs what is left of its process group and cgroup (the
   container ends with its main process, as in Kubernetes), drains the pipe, and writes
   `exit.json` (exit code, signal, reason, finish time) atomically.

Its own diagnostics go to `shim.log`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node_agent.runtime.container_cgroup import ContainerCgroup, OomCounters, oom_killed
from node_agent.runtime.identity import ProcRef
from node_agent.runtime.layout import ContainerDir, ExitRecord, RunRecord, read_json, write_json
from node_agent.runtime.logs import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES, RotatingLog

READ_CHUNK = 64 * 1024
CANNOT_RUN = "ContainerCannotRun"  # what Docker recorded for a run whose exec failed
CANNOT_RUN_EXIT_CODE = 128


@dataclass(frozen=True)
class ShimConfig:
    """run.json: everything the shim needs to start and supervise one run."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    cgroup: ContainerCgroup | None = None
    log_max_bytes: int = DEFAULT_MAX_BYTES
    log_max_files: int = DEFAULT_MAX_FILES

    def to_json(self) -> dict[str, Any]:
        return {"argv": self.argv, "env": self.env, "cwd": self.cwd,
                "cgroup": None if self.cgroup is None else self.cgroup.to_json(),
                "log_max_bytes": self.log_max_bytes, "log_max_files": self.log_max_files}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShimConfig:
        cg = data.get("cgroup")
        return cls([str(a) for a in data["argv"]], {str(k): str(v) for k, v in data["env"].items()},
                   str(data["cwd"]), None if cg is None else ContainerCgroup.from_json(cg),
                   int(data["log_max_bytes"]), int(data["log_max_files"]))


def exit_code_of(returncode: int) -> tuple[int, int | None]:
    """(exit code, signal) from a Popen returncode: killed by signal N is 128 + N."""
    return (128 - returncode, -returncode) if returncode < 0 else (returncode, None)


def reason_of(exit_code: int, oom: bool) -> str:
    if exit_code == 0:
        return "Completed"
    return "OOMKilled" if oom else "Error"


def _handshake(message: dict[str, Any]) -> bool:
    """Tell the runtime how the start went, then point stdout at shim.log (stderr).
    False if nobody was listening any more (the runtime gave up waiting, or died)."""
    try:
        os.write(1, (json.dumps(message) + "\n").encode())
        delivered = True
    except OSError:
        delivered = False
    os.dup2(2, 1)
    return delivered


def _joiner(cgroup: ContainerCgroup | None) -> Callable[[], None] | None:
    """The pre-exec hook of the container process: join the cgroup or die saying why
    (stderr is the container log by then)."""
    if cgroup is None:
        return None

    def join() -> None:
        try:
            cgroup.join()
        except OSError as e:
            os.write(2, f"skiff: cannot join cgroup {e.filename}: {e.strerror}\n".encode())
            raise

    return join


def _launch(shim: ShimConfig, out_fd: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        shim.argv, env=shim.env, cwd=shim.cwd, stdin=subprocess.DEVNULL, stdout=out_fd,
        stderr=subprocess.STDOUT, process_group=0, close_fds=True, restore_signals=True,
        preexec_fn=_joiner(shim.cgroup),
    )


def _launch_error(e: Exception, shim: ShimConfig) -> str:
    if isinstance(e, OSError):
        target = e.filename if e.filename is not None else shim.argv[0]
        if target == shim.cwd:
            return f"working directory {shim.cwd!r}: {e.strerror}"
        return f'exec: "{shim.argv[0]}": {e.strerror}'
    return f"cannot start the container process: {e}"


def _safe_write(log: RotatingLog, data: bytes) -> None:
    try:
        log.write(data)
    except OSError as e:  # disk full and the like: lose log lines, keep supervising
        print(f"shim: log write failed: {e}", file=sys.stderr, flush=True)


def _pump(proc: subprocess.Popen[bytes], out_r: int, log: RotatingLog) -> int:
    """Copy output into the log until the container's main process exits; its returncode."""
    pidfd = os.pidfd_open(proc.pid)
    with selectors.DefaultSelector() as sel:
        sel.register(out_r, selectors.EVENT_READ)
        sel.register(pidfd, selectors.EVENT_READ)
        exited = False
        while not exited:
            for key, _ in sel.select():
                if key.fd == pidfd:
                    exited = True
                    continue
                data = os.read(out_r, READ_CHUNK)
                if data:
                    _safe_write(log, data)
                else:  # every writer closed the pipe; keep waiting for the exit
                    sel.unregister(out_r)
    os.close(pidfd)
    return proc.wait()


def _kill_leftovers(pgid: int, cgroup: ContainerCgroup | None) -> None:
    # The leader is reaped, but its PID stays reserved as the group id while members live.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    if cgroup is not None:
        cgroup.kill_all(signal.SIGKILL)


def _drain(out_r: int, log: RotatingLog) -> None:
    """What the container wrote before it died is still in the pipe; processes that
    escaped both group and cgroup may hold it open, so never wait for EOF."""
    os.set_blocking(out_r, False)
    while True:
        try:
            data = os.read(out_r, READ_CHUNK)
        except BlockingIOError:
            return
        if not data:
            return
        _safe_write(log, data)


def supervise(cdir: ContainerDir, shim: ShimConfig) -> int:
    """Run one container to completion (steps 2-5 above).  Returns the shim's exit status."""
    me = ProcRef.of(os.getpid())
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    log = RotatingLog(cdir.log, shim.log_max_bytes, shim.log_max_files)
    before = shim.cgroup.oom_counters() if shim.cgroup else OomCounters(None, None)
    try:
        proc = _launch(shim, out_w)
    except (OSError, subprocess.SubprocessError) as e:
        message = _launch_error(e, shim)
        _safe_write(log, f"skiff: {message}\n".encode())
        write_json(cdir.exit, ExitRecord(CANNOT_RUN_EXIT_CODE, None, CANNOT_RUN, time.time()).to_json())
        _handshake({"error": message})
        return 1
    finally:
        os.close(out_w)
    try:
        container = ProcRef.of(proc.pid)  # not reaped yet, so it exists (maybe as a zombie)
        write_json(cdir.pid, RunRecord(me, container, container.create_time).to_json())
    except (OSError, ValueError) as e:  # e.g. disk full: an unrecorded run must not live on
        _kill_leftovers(proc.pid, shim.cgroup)
        proc.wait()
        _handshake({"error": f"cannot record the container's process: {e}"})
        return 1
    if not _handshake({"pid": proc.pid, "started_at": container.create_time}):
        # start() already failed (timed out) or the agent died mid-start: nobody believes
        # this run exists, so end it; it is recorded as exited like any other run.
        print("shim: the runtime stopped waiting for the start; killing the container",
              file=sys.stderr, flush=True)
        _kill_leftovers(proc.pid, shim.cgroup)
    returncode = _pump(proc, out_r, log)
    _kill_leftovers(proc.pid, shim.cgroup)
    _drain(out_r, log)
    log.close()
    code, sig = exit_code_of(returncode)
    after = shim.cgroup.oom_counters() if shim.cgroup else OomCounters(None, None)
    record = ExitRecord(code, sig, reason_of(code, oom_killed(before, after, sig)), time.time())
    write_json(cdir.exit, record.to_json())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m node_agent.runtime.shim")
    parser.add_argument("--dir", required=True, type=Path, help="the container's state directory")
    args = parser.parse_args(argv)
    cdir = ContainerDir(args.dir)
    if os.fork() > 0:  # the launcher exits at once; the shim is re-parented to init
        os._exit(0)
    os.chdir("/")
    try:
        data = read_json(cdir.run)
        if data is None:
            raise RuntimeError(f"{cdir.run} is missing or unreadable")
        return supervise(cdir, ShimConfig.from_json(data))
    except BaseException as e:
        traceback.print_exc()
        _handshake({"error": f"shim failed: {e!r} (see {cdir.shim_log})"})
        return 2


if __name__ == "__main__":
    sys.exit(main())
