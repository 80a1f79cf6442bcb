"""Controllers against real API servers on a real store, with an injected clock where
time matters: in-process controllers driven step by step, and the real
`skiff controller-manager` process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from control_plane.api import paths
from control_plane.api.objects import MIRROR_ANNOTATION, is_terminating
from control_plane.client.apiclient import ApiClient
from control_plane.client.clock import FakeClock, micro_rfc3339, rfc3339
from control_plane.controllers.manager import ControllerManager, ManagerConfig
from control_plane.controllers.nodelifecycle import UNREACHABLE, NodeLifecycleConfig
from control_plane.controllers.rollout import HASH_LABEL
from control_plane.devtools import procs
from control_plane.devtools.hollow import hollow_node, register
from control_plane.scheduler.runner import Scheduler
from tests.integration.controlplane import ControlPlane

PODS, NODES = paths.resource("pods"), paths.resource("nodes")
DEPLOYMENTS, LEASES = paths.resource("deployments"), paths.resource("leases")
Obj = dict[str, Any]
CONTAINER: Obj = {"name": "c", "command": ["sleep", "1"], "resources": {"requests": {"cpu": "100m"}}}


def web(replicas: int, image: str = "v1", surge: int = 1, unavailable: int = 0) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [CONTAINER | {"image": image}]}}}}


def live_pods(api: ApiClient) -> list[Obj]:
    return [p for p in api.list(paths.path(PODS, "default"))["items"] if not is_terminating(p)]


def mark_ready(api: ApiClient, pod: Obj) -> None:
    """What the pod's agent would report (agents arrive with the node agent)."""
    meta = pod["metadata"]
    body = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    api.replace(paths.path(PODS, "default", meta["name"], "status"), body)


@pytest.fixture
def manager(control_plane: ControlPlane) -> Iterator[tuple[ControllerManager, FakeClock, ApiClient]]:
    api = control_plane.api()
    clock = FakeClock()
    config = ManagerConfig(NodeLifecycleConfig(grace_period=20, default_toleration=30, eviction_rate=1.0,
                                               eviction_burst=2, unhealthy_threshold=0.55))
    cm = ControllerManager(api, config, clock)
    cm.start_informers()
    assert cm.wait_synced(30)
    try:
        yield cm, clock, api
    finally:
        for informer in cm.informers:
            informer.stop()
        api.close()


def test_deployment_scale_and_rolling_update(manager: tuple[ControllerManager, FakeClock, ApiClient]) -> None:
    cm, _, api = manager
    created = api.create(paths.path(DEPLOYMENTS, "default"), web(3))
    cm.deployment.reconcile("default/web")
    pods = live_pods(api)
    assert len(pods) == 3
    ref = pods[0]["metadata"]["ownerReferences"][0]
    assert ref["uid"] == created["metadata"]["uid"] and ref["controller"] is True
    assert len({p["metadata"]["labels"][HASH_LABEL] for p in pods}) == 1
    cm.deployment.reconcile("default/web")  # idempotent
    assert len(live_pods(api)) == 3

    api.patch(paths.path(DEPLOYMENTS, "default", "web"), {"spec": {"replicas": 5}})
    cm.deployment.reconcile("default/web")
    assert len(live_pods(api)) == 5
    api.replace(paths.path(DEPLOYMENTS, "default", "web", "scale"), {"spec": {"replicas": 2}})
    cm.deployment.reconcile("default/web")
    assert len(live_pods(api)) == 2
    for p in live_pods(api):
        mark_ready(api, p)
    cm.deployment.reconcile("default/web")
    status = api.get(paths.path(DEPLOYMENTS, "default", "web"))["status"]
    assert (status["replicas"], status["readyReplicas"], status["updatedReplicas"]) == (2, 2, 2)

    # Rolling update, maxSurge 1 / maxUnavailable 0: one new pod at a time, never fewer
    # than 2 ready, never more than 3 pods.
    api.patch(paths.path(DEPLOYMENTS, "default", "web"),
              {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v2",
                                                              "command": ["sleep", "2"]}]}}}})
    old_hash = pods[0]["metadata"]["labels"][HASH_LABEL]
    for _ in range(12):
        cm.deployment.reconcile("default/web")
        now = live_pods(api)
        assert len(now) <= 3
        assert sum(1 for p in now if (p.get("status") or {}).get("phase") == "Running") >= 2
        if all(p["metadata"]["labels"][HASH_LABEL] != old_hash for p in now) and len(now) == 2:
            break
        for p in now:
            if (p.get("status") or {}).get("phase") != "Running":
                mark_ready(api, p)
    final = live_pods(api)
    assert len(final) == 2 and all(p["metadata"]["labels"][HASH_LABEL] != old_hash for p in final)
    for p in final:
        mark_ready(api, p)
    cm.deployment.reconcile("default/web")
    status = api.get(paths.path(DEPLOYMENTS, "default", "web"))["status"]
    assert status["updatedReplicas"] == 2 and status["availableReplicas"] == 2
    assert status["observedGeneration"] == api.get(paths.path(DEPLOYMENTS, "default", "web"))["metadata"][
        "generation"]

    # Deleting the Deployment: the garbage collector removes its pods.
    api.delete(paths.path(DEPLOYMENTS, "default", "web"))
    procs.wait_for(lambda: cm.gc.sweep() >= 0 and not live_pods(api), 30, what="orphans collected")


def renew(api: ApiClient, node: str, clock: FakeClock) -> None:
    """The node's heartbeat, as its agent would renew it."""
    path = paths.path(LEASES, "kube-node-lease", node)
    stamp = micro_rfc3339(clock.time())
    try:
        lease = api.get(path)
    except Exception:
        api.create(paths.path(LEASES, "kube-node-lease"), {
            "metadata": {"name": node}, "spec": {"holderIdentity": node, "leaseDurationSeconds": 40,
                                                 "renewTime": stamp}})
        return
    lease["spec"]["renewTime"] = stamp
    api.replace(path, lease)


def heartbeat(cm: ControllerManager, api: ApiClient, clock: FakeClock, nodes: list[str]) -> None:
    for n in nodes:
        renew(api, n, clock)
    stamp = micro_rfc3339(clock.time())
    leases = cm.node_lifecycle.leases
    procs.wait_for(lambda: all((leases.get(f"kube-node-lease/{n}") or {}).get("spec", {}).get("renewTime")
                               == stamp for n in nodes), 20, what="the controller to see the heartbeats")


def test_dead_node_goes_unknown_and_its_pods_move(
        manager: tuple[ControllerManager, FakeClock, ApiClient]) -> None:
    cm, clock, api = manager
    workers = ["w1", "w2", "w3"]
    for n in workers:
        register(api, hollow_node(n))
    heartbeat(cm, api, clock, workers)
    cm.node_lifecycle.monitor()  # the controller first hears every node now
    sched = Scheduler(api)
    sched.start()
    stop = threading.Event()
    threading.Thread(target=sched.loop, args=(stop, lambda: True), daemon=True).start()
    try:
        api.create(paths.path(DEPLOYMENTS, "default"), web(6))
        cm.deployment.reconcile("default/web")
        procs.wait_for(lambda: all(p["spec"].get("nodeName") for p in live_pods(api)), 30, what="pods bound")
        on_w3 = [p["metadata"]["name"] for p in live_pods(api) if p["spec"]["nodeName"] == "w3"]
        assert on_w3, "LeastAllocated should have spread the pods over the three workers"
        # A static pod's mirror on w3: the node's own agent runs it, so it is never evicted.
        api.create(paths.path(PODS, "kube-system"), {
            "metadata": {"name": "static-w3", "annotations": {MIRROR_ANNOTATION: "0123"}},
            "spec": {"nodeName": "w3", "containers": [{"name": "c", "command": ["sleep", "1"]}]}})

        # w3 falls silent: within the grace period nothing happens...
        clock.advance(15)
        heartbeat(cm, api, clock, ["w1", "w2"])
        cm.node_lifecycle.monitor()
        assert not _node(api, "w3")["spec"].get("taints")
        # ...after it, Ready=Unknown and the unreachable taint, but pods stay (toleration).
        clock.advance(10)
        heartbeat(cm, api, clock, ["w1", "w2"])
        procs.wait_for(lambda: _monitor_then(cm, lambda: _ready(api, "w3") == "Unknown"), 20,
                       what="w3 Ready=Unknown")
        assert [t["key"] for t in _node(api, "w3")["spec"]["taints"]] == [UNREACHABLE]
        assert _ready(api, "w1") == "True"
        cm.node_lifecycle.monitor()
        assert all(not is_terminating(p) for p in live_pods(api) if p["metadata"]["name"] in on_w3)

        # After the toleration, w3's pods are evicted (rate-limited) and replaced elsewhere.
        for _ in range(len(on_w3) + 2):
            clock.advance(16)
            heartbeat(cm, api, clock, ["w1", "w2"])
            cm.node_lifecycle.monitor()
        procs.wait_for(lambda: _reconcile_then(cm, lambda: len(live_pods(api)) == 6 and all(
            p["spec"].get("nodeName") in ("w1", "w2") for p in live_pods(api))), 30,
            what="six pods Running on w1 and w2")
        evicted = api.list(paths.path(PODS, "default"))["items"]
        assert {p["metadata"]["name"] for p in evicted if is_terminating(p)} == set(on_w3)
        assert not is_terminating(api.get(paths.path(PODS, "kube-system", "static-w3")))

        # w3 comes back (its agent posts Ready=True and renews its Lease): the taint goes.
        _post_ready(api, "w3", clock)
        heartbeat(cm, api, clock, workers)
        procs.wait_for(lambda: _monitor_then(cm, lambda: not _node(api, "w3")["spec"].get("taints")), 20,
                       what="w3's unreachable taint removed")
        assert _ready(api, "w3") == "True"

        # Now w1 and w2 fall silent too: most nodes down looks like a network problem,
        # so evictions stop.
        for _ in range(4):
            clock.advance(20)
            cm.node_lifecycle.monitor()
        assert cm.node_lifecycle.halted
        assert all(not is_terminating(p) for p in live_pods(api))
        assert len(live_pods(api)) == 6
    finally:
        stop.set()
        sched.stop()


def _post_ready(api: ApiClient, name: str, clock: FakeClock) -> None:
    """What a recovered node's agent writes: its Ready condition True, now."""
    node = _node(api, name)
    stamp = rfc3339(clock.time())
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": stamp,
             "lastTransitionTime": stamp}
    status = {**node["status"], "conditions": [ready]}
    api.replace(paths.path(NODES, None, name, "status"),
                {"metadata": {"resourceVersion": node["metadata"]["resourceVersion"]}, "status": status})


def _monitor_then(cm: ControllerManager, check: Any) -> bool:
    cm.node_lifecycle.monitor()
    return bool(check())


def _reconcile_then(cm: ControllerManager, check: Any) -> bool:
    cm.deployment.reconcile("default/web")
    return bool(check())


def _node(api: ApiClient, name: str) -> Obj:
    return api.get(paths.path(NODES, None, name))


def _ready(api: ApiClient, name: str) -> str:
    conditions = _node(api, name)["status"]["conditions"]
    return next(c["status"] for c in conditions if c["type"] == "Ready")


def test_controller_manager_process_runs_deployments_and_collects_garbage(
        control_plane: ControlPlane) -> None:
    with control_plane.api() as api:
        control_plane.start("cm", ["controller-manager", "--leader-elect-lease-duration", "3",
                                   "--leader-elect-renew-deadline", "2", "--leader-elect-retry-period", "0.5",
                                   "--gc-period", "1"])
        api.create(paths.path(DEPLOYMENTS, "default"), web(4))
        procs.wait_for(lambda: len(live_pods(api)) == 4, 60,
                       what="four pods created by the controller manager")
        api.replace(paths.path(DEPLOYMENTS, "default", "web", "scale"), {"spec": {"replicas": 1}})
        procs.wait_for(lambda: len(live_pods(api)) == 1, 30, what="scaled down to one pod")
        api.delete(paths.path(DEPLOYMENTS, "default", "web"))
        procs.wait_for(lambda: not live_pods(api), 30, what="the orphaned pod collected")
        lease = api.get(paths.path(LEASES, "kube-system", "kube-controller-manager"))
        assert lease["spec"]["holderIdentity"]
