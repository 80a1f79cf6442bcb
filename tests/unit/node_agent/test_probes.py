"""Probes: the tracker's policy with a fake clock (table-driven), and single attempts
against real local things (a command, an HTTP server and TCP ports on 127.0.0.1)."""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from node_agent.probes import ProbeTracker, run_probe

HOST = "127.0.0.1"


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


# ---- ProbeTracker -----------------------------------------------------------------------

# (probe, outcomes in order, what each `record` returns, the final result)
THRESHOLDS: list[tuple[dict[str, Any], list[bool], list[str | None], str | None]] = [
    ({}, [True], ["Success"], "Success"),
    ({}, [False, False], [None, None], None),
    ({}, [False, False, False], [None, None, "Failure"], "Failure"),
    ({}, [False, False, False, False], [None, None, "Failure", None], "Failure"),
    ({}, [False, False, True, False, False], [None, None, "Success", None, None], "Success"),
    ({}, [True, False, False, False, True], ["Success", None, None, "Failure", "Success"], "Success"),
    ({"failureThreshold": 1}, [False], ["Failure"], "Failure"),
    ({"successThreshold": 2}, [True, True], [None, "Success"], "Success"),
    ({"successThreshold": 2}, [True, False, True, True], [None, None, None, "Success"], "Success"),
    ({"successThreshold": 2, "failureThreshold": 2}, [False, False, True, True, False, False],
     [None, "Failure", None, "Success", None, "Failure"], "Failure"),
    # nonsense values fall back to the defaults
    ({"failureThreshold": 0, "successThreshold": "x"}, [False, False, False], [None, None, "Failure"],
     "Failure"),
]


@pytest.mark.parametrize(("probe", "outcomes", "returns", "final"), THRESHOLDS)
def test_thresholds(probe: dict[str, Any], outcomes: list[bool], returns: list[str | None],
                    final: str | None) -> None:
    tracker = ProbeTracker(probe, FakeClock())
    assert tracker.result is None
    got = [tracker.record(ok, f"attempt {i}") for i, ok in enumerate(outcomes)]
    assert got == returns
    assert tracker.result == final
    assert tracker.last_message == f"attempt {len(outcomes) - 1}"


# (probe, container start, start times of previous attempts, now, due?)
DUE: list[tuple[dict[str, Any], float, list[float], float, bool]] = [
    ({}, 100.0, [], 100.0, True),
    ({}, 100.0, [100.0], 109.9, False),
    ({}, 100.0, [100.0], 110.0, True),
    ({"initialDelaySeconds": 5}, 100.0, [], 104.9, False),
    ({"initialDelaySeconds": 5}, 100.0, [], 105.0, True),
    ({"initialDelaySeconds": 5, "periodSeconds": 2}, 100.0, [105.0], 106.9, False),
    ({"initialDelaySeconds": 5, "periodSeconds": 2}, 100.0, [105.0], 107.0, True),
    ({"periodSeconds": 3}, 100.0, [100.0, 103.0, 106.0], 108.5, False),
    ({"periodSeconds": 3}, 100.0, [100.0, 103.0, 106.0], 109.0, True),
    ({"periodSeconds": 0}, 100.0, [100.0], 105.0, False),  # invalid: the default 10 s
    ({"initialDelaySeconds": 30}, 100.0, [], 50.0, False),  # clock before the start
]


@pytest.mark.parametrize(("probe", "started", "attempts", "now", "due"), DUE)
def test_due(probe: dict[str, Any], started: float, attempts: list[float], now: float, due: bool) -> None:
    clock = FakeClock()
    tracker = ProbeTracker(probe, clock)
    for at in attempts:
        tracker.record(True, "ok", at=at)
    clock.now = now
    assert tracker.due(started) is due


def test_period_counts_from_record_time_when_no_start_is_given() -> None:
    clock = FakeClock(200.0)
    tracker = ProbeTracker({"periodSeconds": 5}, clock)
    assert tracker.due(200.0)
    clock.now = 201.0  # the attempt took a second
    tracker.record(False, "slow")
    clock.now = 205.5
    assert not tracker.due(200.0)
    clock.now = 206.0
    assert tracker.due(200.0)


def test_a_probe_loop_with_a_fake_clock() -> None:
    """initialDelaySeconds 3, periodSeconds 2, failureThreshold 2: a loop ticking every
    0.5 s attempts at 3, 5, 7 and fails the probe at the second failure."""
    clock = FakeClock(0.0)
    tracker = ProbeTracker({"initialDelaySeconds": 3, "periodSeconds": 2, "failureThreshold": 2}, clock)
    attempts, flips = [], []
    while clock.now <= 8.0:
        if tracker.due(0.0):
            attempts.append(clock.now)
            flip = tracker.record(clock.now < 4, f"at {clock.now}")
            if flip:
                flips.append((clock.now, flip))
        clock.now += 0.5
    assert attempts == [3.0, 5.0, 7.0]
    assert flips == [(3.0, "Success"), (7.0, "Failure")]


# ---- run_probe: exec -----------------------------------------------------------------

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def test_exec_true_and_false() -> None:
    assert run_probe({"exec": {"command": ["true"]}}, HOST, ENV, None)[0] is True
    assert run_probe({"exec": {"command": ["false"]}}, HOST, ENV, None) == (False, "command exited with 1")


def test_exec_reports_the_first_line_of_output() -> None:
    probe = {"exec": {"command": ["sh", "-c", "echo not ready yet; echo second; exit 3"]}}
    assert run_probe(probe, HOST, ENV, None) == (False, "command exited with 3: not ready yet")


def test_exec_uses_the_containers_env_and_cwd(tmp_path: Path) -> None:
    probe = {"exec": {"command": ["sh", "-c", 'test "$GREETING" = hello && test "$(pwd)" = "$WHERE"']}}
    env = {**ENV, "GREETING": "hello", "WHERE": str(tmp_path)}
    assert run_probe(probe, HOST, env, str(tmp_path))[0] is True
    assert run_probe(probe, HOST, {**env, "GREETING": "bye"}, str(tmp_path))[0] is False


def test_exec_is_not_a_shell() -> None:
    ok, message = run_probe({"exec": {"command": ["true; false"]}}, HOST, ENV, None)
    assert not ok
    assert message.startswith('exec "true; false": ')


def test_exec_of_a_missing_command() -> None:
    ok, message = run_probe({"exec": {"command": ["/nonexistent/probe"]}}, HOST, ENV, None)
    assert not ok
    assert "No such file or directory" in message


def test_exec_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    probe = {"timeoutSeconds": 1,
             "exec": {"command": ["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"]}}
    ok, message = run_probe(probe, HOST, ENV, None)
    # Had the timeout not been honoured, `wait` would have returned 0 after the sleep.
    assert (ok, message) == (False, "command timed out after 1s")
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the command's background child survived the timeout"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_exec_with_a_bad_command_field() -> None:
    assert run_probe({"exec": {"command": "true"}}, HOST, ENV, None)[0] is False
    assert run_probe({"exec": {}}, HOST, ENV, None)[0] is False


def test_a_probe_without_a_handler() -> None:
    assert run_probe({"periodSeconds": 1}, HOST, ENV, None)[0] is False
    expected = (False, "grpc probes are not supported by this agent")
    assert run_probe({"grpc": {"port": 1}}, HOST, ENV, None) == expected


# ---- run_probe: httpGet ------------------------------------------------------------------

class Answers(http.server.BaseHTTPRequestHandler):
    seen_headers: dict[str, str] = {}

    def do_GET(self) -> None:
        Answers.seen_headers = dict(self.headers.items())
        code = {"/ok": 200, "/fail": 500, "/moved": 302, "/nope": 404}.get(self.path.split("?")[0], 404)
        body = b"x" * 10
        self.send_response(code)
        if code == 302:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer((HOST, 0), Answers)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(("path", "ok", "message"), [
    ("/ok", True, "HTTP probe succeeded with statuscode: 200"),
    ("/moved", True, "HTTP probe succeeded with statuscode: 302"),
    ("/fail", False, "HTTP probe failed with statuscode: 500"),
    ("/nope", False, "HTTP probe failed with statuscode: 404"),
])
def test_http_get_status_codes(http_port: int, path: str, ok: bool, message: str) -> None:
    assert run_probe({"httpGet": {"path": path, "port": http_port}}, HOST, ENV, None) == (ok, message)


def test_http_get_port_as_a_numeric_string_host_and_headers(http_port: int) -> None:
    probe = {"httpGet": {"path": "ok", "port": str(http_port), "host": HOST, "scheme": "HTTP",
                         "httpHeaders": [{"name": "X-Probe", "value": "yes"}]}}
    assert run_probe(probe, "127.0.0.99", ENV, None)[0] is True
    assert Answers.seen_headers.get("X-Probe") == "yes"


def test_http_get_named_port(http_port: int) -> None:
    probe = {"httpGet": {"path": "/ok", "port": "web"}}
    assert run_probe(probe, HOST, ENV, None, named_ports={"web": http_port})[0] is True
    ok, message = run_probe(probe, HOST, ENV, None)
    assert not ok
    assert "'web' is not a number" in message


def test_http_get_connection_refused() -> None:
    port = _closed_port()
    ok, message = run_probe({"httpGet": {"path": "/ok", "port": port}}, HOST, ENV, None)
    assert not ok
    assert message == f'Get "http://{HOST}:{port}/ok": connect: connection refused'


def test_http_get_timeout() -> None:
    with socket.socket() as silent:  # listens but never answers
        silent.bind((HOST, 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        probe = {"timeoutSeconds": 1, "httpGet": {"path": "/", "port": port}}
        ok, message = run_probe(probe, HOST, ENV, None)
    assert not ok
    assert message == f'Get "http://{HOST}:{port}/": timed out after 1s'


def test_http_get_bad_port_and_scheme() -> None:
    assert run_probe({"httpGet": {"port": 70000}}, HOST, ENV, None)[0] is False
    assert run_probe({"httpGet": {"port": 80, "scheme": "ftp"}}, HOST, ENV, None)[0] is False
    assert run_probe({"httpGet": {}}, HOST, ENV, None)[0] is False


# ---- run_probe: tcpSocket ------------------------------------------------------------------

def test_tcp_socket_listening_and_closed() -> None:
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        ok = (True, f"connected to {HOST}:{port}")
        assert run_probe({"tcpSocket": {"port": port}}, HOST, ENV, None) == ok
    closed = _closed_port()
    assert run_probe({"tcpSocket": {"port": closed, "host": HOST}}, "127.0.0.99", ENV, None) == (
        False, f"dial tcp {HOST}:{closed}: connect: connection refused")


def _closed_port() -> int:
    """A loopback port that nothing listens on (it was free a moment ago)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])
