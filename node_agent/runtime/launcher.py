"""The runtime's side of starting a shim: spawn it detached, read its one-line report.

The shim is started with `start_new_session=True` (no controlling terminal, its own
session, so signals aimed at the agent's group never reach it) and forks at once; the
process we spawned exits immediately and is reaped here, so the agent is left with no
child processes to reap later.  The report comes over the shim's stdout pipe: one JSON
line, then EOF.  If the report does not arrive within the timeout the pipe is closed;
the shim notices (its write fails) and kills the container it may have started.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from node_agent.runtime.layout import ContainerDir

# The directory holding the `node_agent` package, so the shim imports this same code.
_CODE_ROOT = str(Path(__file__).resolve().parents[2])
DEFAULT_START_TIMEOUT = 15.0


class LaunchError(Exception):
    """The shim could not be spawned, or said nothing intelligible in time."""


def shim_command(cdir: ContainerDir) -> list[str]:
    return [sys.executable, "-m", "node_agent.runtime.shim", "--dir", str(cdir.path)]


def _shim_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_CODE_ROOT, env.get("PYTHONPATH")) if p)
    env.pop("PYTHONSTARTUP", None)
    return env


def _read_line(stream: IO[bytes], timeout: float) -> bytes:
    """Bytes up to the first newline, or all bytes until EOF; stops at the deadline."""
    deadline = time.monotonic() + timeout
    fd = stream.fileno()
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\n", 1)[0]


def launch(cdir: ContainerDir, timeout: float = DEFAULT_START_TIMEOUT) -> dict[str, Any]:
    """Start the shim for the run described in `cdir.run` and return its report:
    `{"pid": int, "started_at": float}` or `{"error": str}`.  Raises `LaunchError`."""
    try:
        with open(cdir.shim_log, "ab") as shim_log:
            proc = subprocess.Popen(shim_command(cdir), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=shim_log, start_new_session=True, close_fds=True, cwd="/",
                                    env=_shim_env())
    except OSError as e:
        raise LaunchError(f"cannot run the shim ({sys.executable}): {e.strerror or e}") from e
    assert proc.stdout is not None
    try:
        line = _read_line(proc.stdout, timeout)
    finally:
        proc.stdout.close()
        _reap(proc)
    if not line:
        raise LaunchError(f"the shim gave no report within {timeout:g}s; see {cdir.shim_log}")
    try:
        report = json.loads(line)
    except json.JSONDecodeError as e:
        raise LaunchError(f"the shim's report is not JSON: {line[:200]!r}") from e
    if not isinstance(report, dict) or not ("pid" in report or "error" in report):
        raise LaunchError(f"the shim's report is not understood: {line[:200]!r}")
    return report


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """The spawned process only forks and exits; if it is stuck (e.g. before forking),
    kill it: it is our own unreaped child, so its PID cannot have been reused."""
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
