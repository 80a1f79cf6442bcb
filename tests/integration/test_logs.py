"""`pods/NAME/log` through the API server to the node's agent, and `skiff logs`.

The agent's log endpoint arrives with the node agent; until then a small HTTPS
stand-in (cluster-CA certificate, the agent's path and parameters) plays its part, so
what is tested here is the API server's proxy and the CLI, over real TLS."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from control_plane.api import paths
from control_plane.client.errors import StatusError
from control_plane.devtools.hollow import hollow_node, register
from control_plane.provision.pki import issue_server_cert
from tests.integration.controlplane import ControlPlane

PODS = paths.resource("pods")
AGENT_PORT = 10250


class Seen:
    requests: list[tuple[str, dict[str, list[str]], str | None]] = []


class AgentStandIn(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlparse(self.path)
        Seen.requests.append((url.path, parse_qs(url.query), self.headers.get("Authorization")))
        if url.path != "/containerLogs/default/web/app":
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"kind":"Status","message":"no such container","reason":"NotFound"}')
            return
        lines = [f"line {i}\n".encode() for i in range(5)]
        tail = parse_qs(url.query).get("tailLines")
        if tail:
            lines = lines[-int(tail[0]):]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"".join(lines))

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def agent(control_plane: ControlPlane) -> Iterator[str]:
    host = control_plane.store.members[0].host
    cert, key = issue_server_cert(control_plane.pki, control_plane.pki, "agent-w1", [host])
    server = http.server.ThreadingHTTPServer((host, AGENT_PORT), AgentStandIn)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()


def test_logs_are_proxied_to_the_agent(control_plane: ControlPlane, agent: str) -> None:
    with control_plane.api() as api:
        node = hollow_node("w1")
        node["status"]["addresses"] = [{"type": "InternalIP", "address": agent}]
        node["status"]["daemonEndpoints"] = {"kubeletEndpoint": {"Port": AGENT_PORT}}
        register(api, node)
        pod = {"metadata": {"name": "web"}, "spec": {"nodeName": "w1", "containers": [
            {"name": "app", "image": "process", "command": ["echo"]}]}}
        api.create(paths.path(PODS, "default"), pod)
        text = "".join(api.stream_text(paths.path(PODS, "default", "web", "log"), {"tailLines": "2"}))
        assert text == "line 3\nline 4\n"
        path, query, auth = Seen.requests[-1]
        assert path == "/containerLogs/default/web/app" and query["tailLines"] == ["2"]
        assert auth == f"Bearer {control_plane.admin_token}"  # the agent can check who asks

        with pytest.raises(StatusError) as err:
            "".join(api.stream_text(paths.path(PODS, "default", "web", "log"), {"container": "nope"}))
        assert err.value.code == 400 and "not valid for pod web" in err.value.message
        api.create(paths.path(PODS, "default"), {"metadata": {"name": "pending"}, "spec": {"containers": [
            {"name": "app", "image": "process"}]}})
        with pytest.raises(StatusError) as err:
            "".join(api.stream_text(paths.path(PODS, "default", "pending", "log")))
        assert err.value.code == 400 and "not scheduled" in err.value.message

        cli = [sys.executable, "-m", "control_plane.cli.main", "--config", str(control_plane.config_file)]
        out = subprocess.run([*cli, "logs", "web", "--tail", "1"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout == "line 4\n", out.stderr

        # A node whose agent is not there: 503 naming the node, one line from the CLI.
        dead = hollow_node("w2")
        dead["status"]["addresses"] = [{"type": "InternalIP", "address": control_plane.store.members[1].host}]
        register(api, dead)
        api.create(paths.path(PODS, "default"), {"metadata": {"name": "lost"}, "spec": {
            "nodeName": "w2", "containers": [{"name": "app", "image": "process"}]}})
        out = subprocess.run([*cli, "logs", "lost"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 1 and 'agent of node "w2"' in out.stderr and "Traceback" not in out.stderr
