"""The agent's log server over real TLS on loopback.

A `LogSource` over tmp files (`fakelogs.FakeSource`) stands in for the runtime, so each
rotation and truncation case is laid out exactly (the runtime's own files are tested in
test_runtime.py); authorization is a fake for the 401/403 paths, and `ApiAuthorizer` against a real API
server for the rest, including the whole path `skiff logs` takes: API server proxy ->
this server -> the API server again, with the caller's token."""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from control_plane.api import paths
from control_plane.client.apiclient import ApiClient
from control_plane.devtools.hollow import hollow_node, register
from control_plane.provision.pki import create_ca, issue_server_cert
from node_agent.logauth import ApiAuthorizer, api_client_factory
from node_agent.logserver import LogServer
from tests.integration.conftest import ApiServer
from tests.integration.controlplane import ControlPlane
from tests.integration.fakelogs import WEB, FakeSource

HOST = "127.0.0.1"
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z ")


class FakeAuthorizer:
    verdicts = {"Bearer good": True, "Bearer other": False}

    def allowed(self, authorization_header: str | None, namespace: str, pod: str) -> bool | None:
        return self.verdicts.get(authorization_header or "")


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    create_ca(tmp_path / "pki")
    return tmp_path / "pki"


@pytest.fixture
def source(tmp_path: Path) -> FakeSource:
    return FakeSource(tmp_path / "logs")


@pytest.fixture
def server(pki: Path, source: FakeSource) -> Iterator[LogServer]:
    cert, key = issue_server_cert(pki, pki, "agent", [HOST])
    srv = LogServer(HOST, 0, cert, key, source, FakeAuthorizer(), poll_interval=0.05)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def client(server: LogServer, pki: Path, token: str | None = "good") -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"https://{HOST}:{server.port}", headers=headers, timeout=10,
                        verify=ssl.create_default_context(cafile=str(pki / "ca.crt")))


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


LOGS = "/containerLogs/default/web/app"


def test_healthz_needs_no_token(server: LogServer, pki: Path) -> None:
    with client(server, pki, token=None) as c:
        resp = c.get("/healthz")
    assert resp.status_code == 200 and resp.text == "ok"


def test_tail_lines_across_a_rotated_file(server: LogServer, pki: Path, source: FakeSource) -> None:
    current = source.add(WEB, "c1\nc2\n")
    (current.parent / "app.log.1").write_text("b1\nb2\nb3\n")
    (current.parent / "app.log.2").write_text("a1\n")
    with client(server, pki) as c:
        assert c.get(LOGS, params={"tailLines": "4"}).text == "b2\nb3\nc1\nc2\n"
        assert c.get(LOGS, params={"tailLines": "1"}).text == "c2\n"
        assert c.get(LOGS, params={"tailLines": "0"}).text == ""
        everything = c.get(LOGS)
    assert everything.status_code == 200 and everything.headers["content-type"].startswith("text/plain")
    assert everything.text == "a1\nb1\nb2\nb3\nc1\nc2\n"


def test_follow_sees_new_lines_across_rotation_and_ends_when_the_container_stops(
        server: LogServer, pki: Path, source: FakeSource) -> None:
    current = source.add(WEB, "old\nbefore\n")
    with client(server, pki) as c, c.stream("GET", LOGS, params={"follow": "true", "tailLines": "1"}) as resp:
        assert resp.status_code == 200
        lines = resp.iter_lines()
        assert next(lines) == "before"
        with current.open("a") as f:
            f.write("after 1\n")
        assert next(lines) == "after 1"
        with current.open("a") as f:
            f.write("just before rotation\n")
        current.rename(current.parent / "app.log.1")
        current.write_text("after rotation\n")
        assert next(lines) == "just before rotation"
        assert next(lines) == "after rotation"
        with current.open("a") as f:
            f.write("last words\nno newline")
        source.running.discard(WEB)
        assert list(lines) == ["last words", "no newline"]
    wait_for(lambda: server.connections == 0, 10, "the stream's connection to end")


def test_follow_ends_when_the_client_goes_away(server: LogServer, pki: Path, source: FakeSource) -> None:
    source.add(WEB, "hello\n")
    with client(server, pki) as c, c.stream("GET", LOGS, params={"follow": "true"}) as resp:
        assert next(resp.iter_lines()) == "hello"
        assert server.connections == 1
    wait_for(lambda: server.connections == 0, 10, "the server to notice the client left")


def test_stop_ends_follow_streams(pki: Path, source: FakeSource) -> None:
    source.add(WEB, "hello\n")
    cert, key = issue_server_cert(pki, pki, "agent", [HOST])
    srv = LogServer(HOST, 0, cert, key, source, FakeAuthorizer(), poll_interval=0.05)
    srv.start()
    stopper = threading.Thread(target=srv.stop)
    try:
        with client(srv, pki) as c, c.stream("GET", LOGS, params={"follow": "true"}) as resp:
            lines = resp.iter_lines()
            assert next(lines) == "hello"
            stopper.start()
            assert list(lines) == []  # the stream ended cleanly
        stopper.join(10)
        assert not stopper.is_alive()
        with pytest.raises(httpx.ConnectError), client(srv, pki) as c:
            c.get("/healthz")
    finally:
        srv.stop()


def test_previous_run(server: LogServer, pki: Path, source: FakeSource) -> None:
    source.add(WEB, "run 2\n")
    with client(server, pki) as c:
        missing = c.get(LOGS, params={"previous": "true"})
        assert missing.status_code == 404 and "previous terminated container" in missing.json()["message"]
        (source.dir(WEB, previous=True) / "app.log").write_text("run 1 a\nrun 1 b\n")
        assert c.get(LOGS, params={"previous": "true"}).text == "run 1 a\nrun 1 b\n"
        # a follow of the previous run ends once it is read, though the container runs
        assert c.get(LOGS, params={"previous": "1", "follow": "1", "tailLines": "1"}).text == "run 1 b\n"


def test_timestamps(server: LogServer, pki: Path, source: FakeSource) -> None:
    source.add(WEB, "plain\n2020-01-01T00:00:00Z already stamped\n")
    with client(server, pki) as c:
        lines = c.get(LOGS, params={"timestamps": "true"}).text.splitlines()
    assert STAMP.match(lines[0]) and lines[0].endswith(" plain")
    assert lines[1] == "2020-01-01T00:00:00Z already stamped"


@pytest.mark.parametrize(("token", "path", "params", "code", "reason"), [
    (None, LOGS, {}, 401, "Unauthorized"),
    ("unknown", LOGS, {}, 401, "Unauthorized"),
    (None, "/containerLogs/default/ghost/app", {}, 401, "Unauthorized"),  # no hint without a token
    ("other", LOGS, {}, 403, "Forbidden"),
    ("good", "/containerLogs/default/ghost/app", {}, 404, "NotFound"),
    ("good", "/containerLogs/default/web", {}, 404, "NotFound"),
    ("good", LOGS, {"tailLines": "-3"}, 400, "BadRequest"),
    ("good", LOGS, {"follow": "maybe"}, 400, "BadRequest"),
    ("good", LOGS, {"sinceSeconds": "soon"}, 400, "BadRequest"),
])
def test_errors_are_status_objects(server: LogServer, pki: Path, source: FakeSource, token: str | None,
                                   path: str, params: dict[str, str], code: int, reason: str) -> None:
    source.add(WEB, "secret\n")
    with client(server, pki, token) as c:
        resp = c.get(path, params=params)
    assert resp.status_code == code
    status = resp.json()
    assert (status["kind"], status["status"], status["code"], status["reason"]) == ("Status", "Failure",
                                                                                     code, reason)
    assert "secret" not in resp.text


def test_unreadable_log_files_are_an_internal_error(server: LogServer, pki: Path, source: FakeSource) -> None:
    source.dir(WEB).joinpath("app.log").mkdir()
    with client(server, pki) as c:
        resp = c.get(LOGS)
    assert resp.status_code == 500 and resp.json()["reason"] == "InternalError"
    assert "cannot read the container's log files" in resp.json()["message"]


def test_only_get(server: LogServer, pki: Path, source: FakeSource) -> None:
    source.add(WEB, "x\n")
    with client(server, pki) as c:
        assert c.post(LOGS).status_code == 405
        assert c.delete(LOGS).status_code == 405


def test_refuses_the_wildcard_address(pki: Path, source: FakeSource) -> None:
    for host in ("0.0.0.0", "::", ""):
        with pytest.raises(ValueError):
            LogServer(host, 0, pki / "x.crt", pki / "x.key", source, FakeAuthorizer())


# ---- with a real API server ----------------------------------------------------------------

def _pod(name: str, node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "process", "command": ["echo"]}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name}, "spec": spec}


def test_api_authorizer_asks_the_api_server_with_the_callers_token(
        apiserver: ApiServer, tmp_path: Path, source: FakeSource) -> None:
    with apiserver.client() as admin:
        assert admin.post("/api/v1/namespaces/default/pods", json=_pod("web")).status_code == 201
        made = admin.post("/apis/skiff.io/v1/bootstraptokens", json={"ttlSeconds": 600})
        assert made.status_code == 201, made.text
        bootstrap = made.json()["token"]
    authz = ApiAuthorizer(api_client_factory([apiserver.url], apiserver.ca))
    admin_header = f"Bearer {apiserver.admin_token}"
    assert authz.allowed(admin_header, "default", "web") is True
    assert authz.allowed(admin_header, "default", "ghost") is False  # 404: no such pod
    assert authz.allowed(f"Bearer {bootstrap}", "default", "web") is False  # 403
    assert authz.allowed("Bearer abcdef.0123456789abcdef", "default", "web") is None  # unknown
    assert authz.allowed("Bearer not-a-token", "default", "web") is None  # malformed
    assert authz.allowed(None, "default", "web") is None

    # The same, served: the log server on the API server's host, checking with the API.
    pki = apiserver.ca.parent
    host = apiserver.url.removeprefix("https://").rsplit(":", 1)[0]
    cert, key = issue_server_cert(pki, pki, "agent", [host])
    source.add(WEB, "from the agent\n", running=False)
    with LogServer(host, 0, cert, key, source, authz) as srv:
        verify = ssl.create_default_context(cafile=str(apiserver.ca))
        with httpx.Client(base_url=f"https://{host}:{srv.port}", verify=verify, timeout=10) as c:
            assert c.get(LOGS, headers={"Authorization": admin_header}).text == "from the agent\n"
            assert c.get(LOGS, headers={"Authorization": "Bearer zzzzzz.0123456789abcdef"}).status_code == 401
            assert c.get(LOGS, headers={"Authorization": f"Bearer {bootstrap}"}).status_code == 403


@pytest.mark.parametrize("control_plane", [1], indirect=True)
def test_pod_logs_through_the_api_server(control_plane: ControlPlane, source: FakeSource) -> None:
    """`GET pods/web/log` on the API server -> its proxy -> this log server, which asks the
    API server whether the caller's token may read the pod."""
    host = control_plane.store.members[0].host
    cert, key = issue_server_cert(control_plane.pki, control_plane.pki, "agent-w1", [host])
    current = source.add(WEB, "one\ntwo\nthree\n")
    authz = ApiAuthorizer(api_client_factory(control_plane.urls, control_plane.ca))
    with LogServer(host, 0, cert, key, source, authz, poll_interval=0.05) as srv, control_plane.api() as api:
        node = hollow_node("w1")
        node["status"]["addresses"] = [{"type": "InternalIP", "address": host}]
        node["status"]["daemonEndpoints"] = {"kubeletEndpoint": {"Port": srv.port}}
        register(api, node)
        api.create(paths.path(paths.resource("pods"), "default"), _pod("web", "w1"))
        log_path = paths.path(paths.resource("pods"), "default", "web", "log")
        assert "".join(api.stream_text(log_path, {"tailLines": "2"})) == "two\nthree\n"
        _follow_through_the_proxy(api, log_path, current, source)


def _follow_through_the_proxy(api: ApiClient, log_path: str, current: Path, source: FakeSource) -> None:
    chunks = api.stream_text(log_path, {"follow": "true", "tailLines": "1"})
    seen = ""
    while "three\n" not in seen:
        seen += next(chunks)
    with current.open("a") as f:
        f.write("four\n")
    while "four\n" not in seen:
        seen += next(chunks)
    source.running.discard(WEB)
    seen += "".join(chunks)  # ends: the container stopped and its file is drained
    assert seen == "three\nfour\n"
