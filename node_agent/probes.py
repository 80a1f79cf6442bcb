"""Container probes (liveness, readiness, startup), as the kubelet runs them.

Two layers, kept apart so the policy is testable without I/O:

- `run_probe` makes ONE attempt of a probe (`exec`, `httpGet` or `tcpSocket`) against a
  process on this host and says whether it passed, with a short message in the words
  the kubelet uses ("HTTP probe failed with statuscode: 500").  It blocks for at most
  about `timeoutSeconds` (default 1) plus the time to reap a killed command.
- `ProbeTracker` is pure: it decides when an attempt is due (`initialDelaySeconds`,
  `periodSeconds`) and turns attempt outcomes into the probe's result
  (`successThreshold`, `failureThreshold`).  Time comes from an injected clock.

What a result means is the caller's business (a failed liveness probe restarts the
container, a failed readiness probe marks the pod not ready, a startup probe holds the
other two back until it succeeds).  A container that restarts gets a new tracker.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
from collections.abc import Mapping
from typing import Any

import httpx

from control_plane.client.clock import Clock

DEFAULT_TIMEOUT = 1.0
DEFAULT_PERIOD = 10.0
DEFAULT_FAILURE_THRESHOLD = 3
MESSAGE_LIMIT = 200  # characters of a command's output kept in a message
USER_AGENT = "skiff-probe/0.1"
KILL_WAIT = 2.0  # seconds to reap a probe command after SIGKILL

Probe = Mapping[str, Any]
Result = tuple[bool, str]


# ---- one attempt ----------------------------------------------------------------------

def run_probe(probe: Probe, host: str, env: Mapping[str, str], cwd: str | None,
              named_ports: Mapping[str, int] | None = None) -> Result:
    """Make one attempt of `probe`; return (passed, message).

    `host` is the address `httpGet`/`tcpSocket` use when the probe names none (the
    node's address: containers are processes on this host).  `env` and `cwd` are the
    container's, for `exec`.  `named_ports` resolves a port given by name (the
    container's `ports[].name`); without it only numbers are accepted.  Never raises
    for anything the probe or the probed process does: a malformed probe is a failed
    attempt whose message says what is wrong.
    """
    timeout = _positive(probe.get("timeoutSeconds"), DEFAULT_TIMEOUT)
    if "exec" in probe:
        return _exec(probe["exec"] or {}, env, cwd, timeout)
    if "httpGet" in probe:
        return _http_get(probe["httpGet"] or {}, host, timeout, named_ports or {})
    if "tcpSocket" in probe:
        return _tcp_socket(probe["tcpSocket"] or {}, host, timeout, named_ports or {})
    if "grpc" in probe:
        return False, "grpc probes are not supported by this agent"
    return False, "the probe has no handler (exec, httpGet or tcpSocket)"


def _exec(action: Mapping[str, Any], env: Mapping[str, str], cwd: str | None, timeout: float) -> Result:
    """Run the command (no shell unless it names one) in its own session, so that on
    timeout the whole process group is killed, grandchildren included."""
    command = action.get("command")
    if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
        return False, "exec probe needs a non-empty command (a list of strings)"
    try:
        proc = subprocess.Popen(command, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as err:  # not found, not executable, bad cwd
        return False, f'exec "{command[0]}": {err.strerror or err}'
    with proc:
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            _drain(proc)
            return False, f"command timed out after {_seconds(timeout)}"
    first = _first_line(output)
    suffix = f": {first}" if first else ""
    return proc.returncode == 0, f"command exited with {proc.returncode}{suffix}"


def _drain(proc: subprocess.Popen[bytes]) -> None:
    """Reap a killed probe command; give up on its output if something that left its
    process group still holds the pipe open."""
    try:
        proc.communicate(timeout=KILL_WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the probe's process group (it is our child and leads its own session,
    so its PID cannot have been reused while we have not reaped it)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _http_get(action: Mapping[str, Any], host: str, timeout: float, named: Mapping[str, int]) -> Result:
    """GET without following redirects: 2xx and 3xx pass.  HTTPS certificates are not
    verified (as the kubelet does: the probe checks liveness, not identity).  The body
    is not read, so an endless response cannot hold the probe."""
    port, problem = _port(action.get("port"), named)
    if port is None:
        return False, problem
    scheme = str(action.get("scheme") or "HTTP").lower()
    if scheme not in ("http", "https"):
        return False, f"httpGet scheme must be HTTP or HTTPS, not {action.get('scheme')!r}"
    path = str(action.get("path") or "/")
    path = path if path.startswith("/") else "/" + path
    url = f"{scheme}://{_join(str(action.get('host') or host), port)}{path}"
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close"}
    for header in action.get("httpHeaders") or []:
        if isinstance(header, Mapping) and header.get("name"):
            headers[str(header["name"])] = str(header.get("value", ""))
    try:
        with httpx.Client(verify=False, trust_env=False, follow_redirects=False, timeout=timeout) as client, \
                client.stream("GET", url, headers=headers) as resp:
            code = resp.status_code
    except httpx.TimeoutException:
        return False, f'Get "{url}": timed out after {_seconds(timeout)}'
    except httpx.HTTPError as err:
        return False, f'Get "{url}": {_reason(err)}'
    if 200 <= code < 400:
        return True, f"HTTP probe succeeded with statuscode: {code}"
    return False, f"HTTP probe failed with statuscode: {code}"


def _tcp_socket(action: Mapping[str, Any], host: str, timeout: float, named: Mapping[str, int]) -> Result:
    """Open a TCP connection and close it at once."""
    port, problem = _port(action.get("port"), named)
    if port is None:
        return False, problem
    target = str(action.get("host") or host)
    where = f"dial tcp {_join(target, port)}"
    try:
        with socket.create_connection((target, port), timeout=timeout):
            pass
    except TimeoutError:
        return False, f"{where}: i/o timeout"
    except OSError as err:
        return False, f"{where}: {_reason(err)}"
    return True, f"connected to {_join(target, port)}"


def _port(value: Any, named: Mapping[str, int]) -> tuple[int | None, str]:
    """A port number from an int, a numeric string or a named port; else (None, why)."""
    if isinstance(value, str) and not value.isdigit():
        if value in named:
            return named[value], ""
        return None, f"port {value!r} is not a number and the container declares no port by that name"
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None, f"probe port must be a number or a name, not {value!r}"
    port = int(value)
    if not 0 < port < 65536:
        return None, f"probe port {port} is out of range (1-65535)"
    return port, ""


# ---- small helpers ----------------------------------------------------------------------

def _positive(value: Any, default: float) -> float:
    """A positive finite number of seconds from a probe field, or the default."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return default
    return float(value) if value > 0 else default


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _first_line(output: bytes | None) -> str:
    text = (output or b"").decode(errors="replace").strip()
    line = text.splitlines()[0] if text else ""
    return line[:MESSAGE_LIMIT]


def _reason(err: BaseException) -> str:
    """The innermost cause of a connection error, in Go's words where they differ."""
    while err.__cause__ is not None or err.__context__ is not None:
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
    if isinstance(err, ConnectionRefusedError):
        return "connect: connection refused"
    if isinstance(err, OSError) and err.strerror:
        return f"connect: {err.strerror.lower()}"
    return str(err) or type(err).__name__


# ---- policy -------------------------------------------------------------------------

class ProbeTracker:
    """When to probe and what the attempts add up to, for one run of one container.

    - `due(started_at)`: no attempt before `started_at + initialDelaySeconds`; the first
      one then; after that one every `periodSeconds`, measured from the start of the
      previous attempt (as `record(..., at=)` states it, else the time of `record`).
    - `record(ok, message)`: the result turns "Success" after `successThreshold`
      consecutive passes and "Failure" after `failureThreshold` consecutive failures;
      it is None (unknown) until one of them happens.  `record` returns the new result
      when it changed, else None.
    - Pure and clock-injected; not thread-safe (one sync loop owns a tracker).
    """

    def __init__(self, probe: Probe, clock: Clock) -> None:
        self.clock = clock
        self.initial_delay = _non_negative(probe.get("initialDelaySeconds"), 0.0)
        self.period = _positive(probe.get("periodSeconds"), DEFAULT_PERIOD)
        self.success_threshold = _count(probe.get("successThreshold"), 1)
        self.failure_threshold = _count(probe.get("failureThreshold"), DEFAULT_FAILURE_THRESHOLD)
        self.result: str | None = None
        self.last_message = ""
        self.last_attempt: float | None = None
        self.successes = 0  # consecutive
        self.failures = 0  # consecutive

    def due(self, started_at: float) -> bool:
        """Is an attempt due now, for a container that started at `started_at`?"""
        now = self.clock.time()
        if now < started_at + self.initial_delay:
            return False
        return self.last_attempt is None or now >= self.last_attempt + self.period

    def record(self, ok: bool, message: str, at: float | None = None) -> str | None:
        """Count one attempt (started at `at`, default now); the new result if it flipped."""
        self.last_attempt = self.clock.time() if at is None else at
        self.last_message = message
        if ok:
            self.successes, self.failures = self.successes + 1, 0
            flipped = self.successes >= self.success_threshold and self.result != "Success"
            new = "Success"
        else:
            self.successes, self.failures = 0, self.failures + 1
            flipped = self.failures >= self.failure_threshold and self.result != "Failure"
            new = "Failure"
        if not flipped:
            return None
        self.result = new
        return new


def _non_negative(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return default
    return float(value) if value >= 0 else default


def _count(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value if value >= 1 else default
