"""`pods/NAME/log` through the API server to the node's agent, and `skiff logs`.

The agent side is the real log server (`node_agent.logserver.LogServer`, cluster-CA
certificate, real TLS) over files laid out as a runtime does (`fakelogs.FakeSource`),
with an authorizer that records who asked: what is tested here is the API server's
proxy and the CLI.  The whole path with the real authorizer is in test_logserver.py."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from control_plane.api import paths
from control_plane.client.errors import StatusError
from control_plane.devtools.hollow import hollow_node, register
from control_plane.provision.pki import issue_server_cert
from node_agent.logserver import LogServer
from tests.integration.controlplane import ControlPlane
from tests.integration.fakelogs import WEB, FakeSource

PODS = paths.resource("pods")
AGENT_PORT = 10250


class RecordingAuthorizer:
    """Allows everyone, and remembers each request's Authorization header."""

    def __init__(self) -> None:
        self.seen: list[tuple[str | None, str, str]] = []

    def allowed(self, authorization_header: str | None, namespace: str, pod: str) -> bool | None:
        self.seen.append((authorization_header, namespace, pod))
        return True


@pytest.fixture
def agent(control_plane: ControlPlane, tmp_path: Path) -> Iterator[tuple[str, RecordingAuthorizer]]:
    host = control_plane.store.members[0].host
    cert, key = issue_server_cert(control_plane.pki, control_plane.pki, "agent-w1", [host])
    source, authz = FakeSource(tmp_path / "logs"), RecordingAuthorizer()
    source.add(WEB, "".join(f"line {i}\n" for i in range(5)), running=False)
    with LogServer(host, AGENT_PORT, cert, key, source, authz, poll_interval=0.05):
        yield host, authz


def test_logs_are_proxied_to_the_agent(control_plane: ControlPlane,
                                       agent: tuple[str, RecordingAuthorizer]) -> None:
    host, authz = agent
    with control_plane.api() as api:
        node = hollow_node("w1")
        node["status"]["addresses"] = [{"type": "InternalIP", "address": host}]
        node["status"]["daemonEndpoints"] = {"kubeletEndpoint": {"Port": AGENT_PORT}}
        register(api, node)
        pod = {"metadata": {"name": "web"}, "spec": {"nodeName": "w1", "containers": [
            {"name": "app", "image": "process", "command": ["echo"]}]}}
        api.create(paths.path(PODS, "default"), pod)
        text = "".join(api.stream_text(paths.path(PODS, "default", "web", "log"), {"tailLines": "2"}))
        assert text == "line 3\nline 4\n"
        assert authz.seen[-1] == (f"Bearer {control_plane.admin_token}", "default", "web")  # who asks

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
