"""The scheduler as a process against real API servers on a real 3-member store; nodes
are hollow nodes registered through the API (agents arrive with the node agent)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from control_plane.api import paths
from control_plane.client.apiclient import ApiClient
from control_plane.devtools import procs
from control_plane.devtools.hollow import hollow_node, register
from tests.integration.controlplane import ControlPlane

PODS, EVENTS, LEASES = paths.resource("pods"), paths.resource("events"), paths.resource("leases")
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
FAST_ELECTION = ["--leader-elect-lease-duration", "3", "--leader-elect-renew-deadline", "2",
                 "--leader-elect-retry-period", "0.5"]
Obj = dict[str, Any]


def pod(name: str, cpu: str = "500m", memory: str = "256Mi") -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "t"}},
            "spec": {"containers": [{"name": "c", "image": "process", "command": ["sleep", "1000"],
                                     "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}}


def placements(api: ApiClient) -> dict[str, str | None]:
    items = api.list(paths.path(PODS, "default"))["items"]
    return {p["metadata"]["name"]: p["spec"].get("nodeName") for p in items}


def events_for(api: ApiClient, name: str, reason: str) -> list[Obj]:
    items = api.list(paths.path(EVENTS, "default"), field=f"involvedObject.name={name}")["items"]
    return [e for e in items if e["reason"] == reason]


def test_scheduler_binds_spreads_explains_and_retries(control_plane: ControlPlane) -> None:
    with control_plane.api() as api:
        for name in ("w1", "w2"):
            register(api, hollow_node(name))
        register(api, hollow_node("m1", taints=[CONTROL_PLANE_TAINT],
                                  labels={"node-role.kubernetes.io/control-plane": ""}))
        control_plane.start("scheduler", ["scheduler", "--no-leader-elect"])
        for i in range(6):
            api.create(paths.path(PODS, "default"), pod(f"p{i}"))
        procs.wait_for(lambda: all(placements(api).values()), 60, what="six pods bound")
        counts = Counter(placements(api).values())
        assert counts == {"w1": 3, "w2": 3}, counts  # LeastAllocated spreads; the master is tainted

        api.create(paths.path(PODS, "default"), pod("huge", cpu="64"))

        def unschedulable() -> Obj | None:
            got = api.get(paths.path(PODS, "default", "huge"))
            return next((c for c in got["status"].get("conditions") or []
                         if c["type"] == "PodScheduled" and c["status"] == "False"), None)

        procs.wait_for(unschedulable, 30, what="PodScheduled=False on the huge pod")
        message = unschedulable()["message"]  # type: ignore[index]
        assert message == ("0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated "
                           "taint {node-role.kubernetes.io/control-plane}."), message
        procs.wait_for(lambda: events_for(api, "huge", "FailedScheduling"), 30,
                       what="a FailedScheduling event")

        register(api, hollow_node("big", cpu="128"))  # a cluster change: the pod is retried
        procs.wait_for(lambda: placements(api)["huge"] == "big", 30,
                       what="the huge pod bound to the big node")
        bound = api.get(paths.path(PODS, "default", "huge"))
        assert any(c["type"] == "PodScheduled" and c["status"] == "True"
                   for c in bound["status"]["conditions"])
        # Not a hot loop: the unchanged verdict was written (and announced) once.
        assert len(events_for(api, "huge", "FailedScheduling")) == 1
        procs.wait_for(lambda: len(events_for(api, "p0", "Scheduled")) == 1, 30, what="a Scheduled event")


def test_scheduler_failover_after_kill_9(control_plane: ControlPlane) -> None:
    with control_plane.api() as api:
        for name in ("w1", "w2", "w3"):
            register(api, hollow_node(name, cpu="16", memory="32Gi"))
        for ident in ("sched-a", "sched-b"):
            control_plane.start(ident, ["scheduler", "--identity", ident, *FAST_ELECTION])
        lease_path = paths.path(LEASES, "kube-system", "kube-scheduler")

        def holder() -> str:
            return str(api.get(lease_path)["spec"].get("holderIdentity") or "")

        procs.wait_for(lambda: holder() in ("sched-a", "sched-b"), 60, what="a scheduler to lead")
        for i in range(5):
            api.create(paths.path(PODS, "default"), pod(f"before{i}", cpu="100m"))
        procs.wait_for(lambda: all(placements(api).values()), 60, what="pods bound by the first leader")

        first = holder()
        control_plane.kill(first)  # kill -9: no lease release, the other must wait it out
        for i in range(20):
            api.create(paths.path(PODS, "default"), pod(f"after{i}", cpu="100m"))
        procs.wait_for(lambda: all(placements(api).values()), 60, what="pods bound by the new leader")
        second = holder()
        assert second != first and second in ("sched-a", "sched-b")
        assert int(api.get(lease_path)["spec"]["leaseTransitions"]) >= 1
        # No pod bound twice: exactly one successful binding (Scheduled event) per pod.
        def scheduled() -> Counter[str]:
            items = api.list(paths.path(EVENTS, "default"))["items"]
            return Counter(e["involvedObject"]["name"] for e in items if e["reason"] == "Scheduled")

        # Events are posted asynchronously: the killed leader may have lost its last ones,
        # so only the new leader's 20 bindings must each show exactly one.
        procs.wait_for(lambda: all(scheduled()[f"after{i}"] == 1 for i in range(20)), 60,
                       what="a Scheduled event for each pod bound by the new leader")
        assert max(scheduled().values()) == 1, scheduled()
