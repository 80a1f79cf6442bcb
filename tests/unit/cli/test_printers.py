"""Table cells of `skiff get` and the human numbers they use (pure)."""

from __future__ import annotations

import pytest

from control_plane.api import paths
from control_plane.cli import humanize, printers


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (0, "0s"), (119, "119s"), (150, "2m30s"), (180, "3m"), (3 * 3600 + 60, "3h1m"),
    (30 * 3600, "30h"), (3 * 86400 + 7200, "3d2h"), (100 * 86400, "100d"), (3 * 365 * 86400, "3y"),
])
def test_duration(seconds: float, text: str) -> None:
    assert humanize.duration(seconds) == text


def test_quantities() -> None:
    assert [humanize.cores(q) for q in ("4", "1500m", "bad")] == ["4", "1500m", "<unknown>"]
    assert [humanize.memory(q) for q in ("8Gi", "1536Mi", 512)] == ["8Gi", "1.5Gi", "512"]
    assert [humanize.percent(f) for f in (0.253, None, True)] == ["25%", "<unknown>", "<unknown>"]


def pod(**status: object) -> dict[str, object]:
    return {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": status}


def test_pod_cells() -> None:
    running = pod(phase="Running", containerStatuses=[{"name": "a", "ready": True, "restartCount": 2},
                                                      {"name": "b", "ready": False, "restartCount": 1}])
    assert (printers.pod_ready(running), printers.pod_status(running), printers.pod_restarts(running)) == (
        "1/2", "Running", "3")
    waiting = pod(phase="Pending",
                  containerStatuses=[{"state": {"waiting": {"reason": "ContainerCreating"}}}])
    assert printers.pod_status(waiting) == "ContainerCreating"
    assert printers.pod_status(pod(phase="Failed", reason="Evicted")) == "Evicted"
    assert printers.pod_status(pod(phase="Failed", containerStatuses=[
        {"state": {"terminated": {"reason": "Error"}}}])) == "Error"
    gone = {**running, "metadata": {"name": "p", "deletionTimestamp": "2030-01-01T00:00:00Z"}}
    assert printers.pod_status(gone) == "Terminating"
    assert printers.pod_status({"metadata": {}}) == "Pending"


def node(ready: str | None, unschedulable: bool = False) -> dict[str, object]:
    conditions = [{"type": "Ready", "status": ready}] if ready else []
    return {"metadata": {"name": "n", "labels": {"node-role.kubernetes.io/control-plane": "",
                                                 "node-role.kubernetes.io/worker": ""}},
            "spec": {"unschedulable": unschedulable}, "status": {"conditions": conditions}}


def test_node_cells() -> None:
    assert printers.node_status(node("True")) == "Ready"
    assert printers.node_status(node("False", unschedulable=True)) == "NotReady,SchedulingDisabled"
    assert printers.node_status(node("Unknown")) == "Unknown"
    assert printers.node_status(node(None)) == "Unknown"
    assert printers.node_roles(node("True")) == "control-plane,worker"
    assert printers.node_roles({"metadata": {}}) == "<none>"


def test_columns() -> None:
    pods = paths.resource("pods")
    assert printers.headers(printers.columns(pods)) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert printers.headers(printers.columns(pods, wide=True, all_namespaces=True)) == [
        "NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    nodes = paths.resource("nodes")
    assert printers.headers(printers.columns(nodes, all_namespaces=True))[0] == "NAME"  # not namespaced
    leases = paths.resource("leases")
    lease = {"metadata": {"name": "kube-scheduler", "creationTimestamp": "2030-01-01T00:00:00Z"},
             "spec": {"holderIdentity": "sched-a"}}
    rows = printers.rows([lease], printers.columns(leases), 1893456000.0 + 90)
    assert rows == [["kube-scheduler", "sched-a", "90s"]]
    event = {"involvedObject": {"kind": "Pod", "name": "web-1"}, "lastTimestamp": "2030-01-01T00:00:00Z",
             "reason": "Scheduled", "message": "assigned"}
    assert printers.rows([event], printers.columns(paths.resource("events")), 1893456000.0 + 5) == [
        ["5s", "Normal", "Scheduled", "pod/web-1", "assigned"]]
