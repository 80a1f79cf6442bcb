"""The controller manager's wiring: the registry, shared informers, events to queue keys,
resync, per-key failure isolation with back-off, and the leader-gated loops.

The informers run for real against a small in-memory API (list + watch of fixed
objects per collection path); nothing here sleeps: waits are on conditions.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any, cast

import pytest

from control_plane.api import paths
from control_plane.api.objects import Obj, object_key
from control_plane.client.apiclient import ApiClient
from control_plane.client.clock import FakeClock
from control_plane.client.errors import Unreachable
from control_plane.controllers.controller import ALL, ControllerContext, Resync, Watch
from control_plane.controllers.deployment import DeploymentController
from control_plane.controllers.gc import GarbageCollector
from control_plane.controllers.manager import REGISTRY, ControllerManager
from control_plane.controllers.nodelifecycle import NodeLifecycleController

PODS, DEPLOYMENTS = paths.resource("pods"), paths.resource("deployments")


class FakeApi:
    """Lists fixed objects per collection path; a watch streams what `emit` sends and
    ends when nothing comes for a moment (as a server's watch timeout does), so an
    informer's thread notices `stop()`."""

    def __init__(self, objects: dict[str, list[Obj]] | None = None) -> None:
        self.objects = objects or {}
        self._events: dict[str, queue.Queue[Obj]] = {}
        self._lock = threading.Lock()

    def list(self, path: str, label: str | None = None, field: str | None = None) -> Obj:
        return {"items": [dict(o) for o in self.objects.get(path, [])], "metadata": {"resourceVersion": "1"}}

    def watch(self, path: str, resource_version: str | None, timeout_seconds: int = 300,
              label: str | None = None, field: str | None = None) -> Iterator[Obj]:
        events = self._feed(path)
        while True:
            try:
                yield events.get(timeout=0.05)
            except queue.Empty:
                return

    def emit(self, path: str, kind: str, obj: Obj) -> None:
        self._feed(path).put({"type": kind, "object": obj})

    def _feed(self, path: str) -> queue.Queue[Obj]:
        with self._lock:
            return self._events.setdefault(path, queue.Queue())


def obj(name: str, namespace: str | None = "default", rv: str = "1", **meta: Any) -> Obj:
    metadata: Obj = {"name": name, "resourceVersion": rv, "uid": f"uid-{name}", **meta}
    if namespace:
        metadata["namespace"] = namespace
    return {"metadata": metadata}


def owned_pod(name: str, owner: str) -> Obj:
    return obj(name, ownerReferences=[{"kind": "Deployment", "name": owner, "uid": f"uid-{owner}",
                                        "controller": True}])


@pytest.fixture
def started() -> Iterator[list[ControllerManager]]:
    """Managers whose informers a test started; stopped afterwards."""
    managers: list[ControllerManager] = []
    yield managers
    for cm in managers:
        for informer in cm.informers:
            informer.stop()


def start(cm: ControllerManager, started: list[ControllerManager]) -> ControllerManager:
    started.append(cm)
    cm.start_informers()
    assert cm.wait_synced(10)
    return cm


# ---- the registry -------------------------------------------------------------------------
def test_the_registry_builds_every_controller_over_one_informer_per_resource() -> None:
    cm = ControllerManager(cast(ApiClient, FakeApi()))
    assert len(REGISTRY) == 3
    assert list(cm.controllers) == ["deployment-controller", "node-lifecycle-controller",
                                    "garbage-collector-controller"]
    assert isinstance(cm.deployment, DeploymentController)
    assert isinstance(cm.node_lifecycle, NodeLifecycleController)
    assert isinstance(cm.gc, GarbageCollector)
    assert sorted(i.path for i in cm.informers) == sorted([
        "/api/v1/nodes", "/api/v1/pods", "/apis/apps/v1/deployments",
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"])
    assert cm.deployment.pods is cm.gc.pods is cm.node_lifecycle.pods  # shared, listed once
    assert set(cm.queues) == set(cm.controllers)


def test_two_controllers_with_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="two controllers are named"):
        ControllerManager(cast(ApiClient, FakeApi()), registry=(REGISTRY[0], REGISTRY[0]))


def test_events_become_the_keys_of_the_controllers_that_watch_them(started: list[ControllerManager]) -> None:
    api = FakeApi({paths.path(DEPLOYMENTS): [obj("web")], paths.path(PODS): [owned_pod("web-1", "web")]})
    cm = start(ControllerManager(cast(ApiClient, api), clock=FakeClock()), started)
    deployments, gc = cm.queues["deployment-controller"], cm.queues["garbage-collector-controller"]
    assert deployments.get(5) == "default/web"  # from the listed Deployment and its pod: one key
    deployments.done("default/web")
    assert deployments.get(0) is None and gc.get(0) is None  # added objects do not wake the gc
    pod = owned_pod("api-7", "api")
    pod["metadata"]["resourceVersion"] = "2"
    api.emit(paths.path(PODS), "MODIFIED", pod)
    assert deployments.get(5) == "default/api"  # a pod wakes its controlling Deployment
    deployments.done("default/api")
    cm.resync_now("deployment-controller")
    assert (deployments.get(0), deployments.get(0)) == ("default/web", None)  # every cached Deployment
    deployments.done("default/web")
    api.emit(paths.path(DEPLOYMENTS), "DELETED", obj("web", rv="3"))
    assert gc.get(5) == ALL  # a deleted owner: sweep now, not at the next period
    assert deployments.get(0) is None  # (handlers run in order: the deployment's already did)


def test_a_whole_cluster_controller_resyncs_its_one_key() -> None:
    cm = ControllerManager(cast(ApiClient, FakeApi()))
    for name in ("node-lifecycle-controller", "garbage-collector-controller"):
        cm.resync_now(name)
        cm.resync_now(name)
        q = cm.queues[name]
        assert (q.get(0), q.get(0)) == (ALL, None)  # queued once however often it is due


# ---- failure isolation --------------------------------------------------------------------
class FlakyController:
    """Reconciles `pods` keys; raises for a key as many times as `failures` says."""

    name = "flaky-controller"
    workers = 2

    def __init__(self, ctx: ControllerContext, failures: dict[str, list[Exception]],
                 period: float = 3600.0) -> None:
        self.pods = ctx.informers.get("pods")
        self.failures, self.period = failures, period
        self.done: list[str] = []
        self.changed = threading.Condition()

    def watches(self) -> Sequence[Watch]:
        return [Watch(self.pods, lambda kind, o: [object_key(o)])]

    def resync(self) -> Resync:
        return Resync(self.period, lambda: ["resynced"])

    def reconcile(self, key: str) -> None:
        pending = self.failures.get(key)
        if pending:
            raise pending.pop(0)
        with self.changed:
            self.done.append(key)
            self.changed.notify_all()

    def wait_for(self, *keys: str) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: all(k in self.done for k in keys), timeout=10)


def flaky(failures: dict[str, list[Exception]], period: float = 3600.0) -> tuple[
        list[FlakyController], Any]:
    built: list[FlakyController] = []

    def factory(ctx: ControllerContext) -> FlakyController:
        built.append(FlakyController(ctx, failures, period))
        return built[-1]
    return built, factory


def test_a_failing_key_is_logged_and_retried_with_back_off_while_others_go_on(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    built, factory = flaky({"default/bad": [RuntimeError("bug"), Unreachable("no server")]})
    cm = ControllerManager(cast(ApiClient, FakeApi()), clock=clock, registry=(factory,))
    q, controller = cm.queues["flaky-controller"], built[0]
    q.add("default/bad")
    q.add("default/good")
    with caplog.at_level(logging.INFO):
        assert cm.process_next("flaky-controller")  # bad: the bug is logged, not raised
        assert cm.process_next("flaky-controller")  # good: unaffected
        assert controller.done == ["default/good"]
        assert not cm.process_next("flaky-controller")  # bad waits for its back-off...
        clock.advance(0.011)
        assert cm.process_next("flaky-controller")  # ...then fails again (an API error)
        assert not cm.process_next("flaky-controller")
        clock.advance(0.021)  # the back-off doubled
        assert cm.process_next("flaky-controller")
    assert controller.done == ["default/good", "default/bad"]
    errors = [r for r in caplog.records if "default/bad" in r.getMessage()]
    assert [r.levelno for r in errors] == [logging.ERROR, logging.INFO]
    assert errors[0].exc_info is not None and "no server" in errors[1].getMessage()


def test_run_works_only_while_leading_and_survives_failures(started: list[ControllerManager]) -> None:
    api = FakeApi({paths.path(PODS): [obj("a"), obj("b")]})
    built, factory = flaky({"default/a": [RuntimeError("first try")]}, period=0.01)
    cm = ControllerManager(cast(ApiClient, api), registry=(factory,))
    started.append(cm)
    leading, stop = threading.Event(), threading.Event()
    asked = threading.Semaphore(0)

    def is_leading() -> bool:
        asked.release()
        return leading.is_set()

    runner = threading.Thread(target=cm.run, args=(stop, is_leading), daemon=True)
    runner.start()
    try:
        assert cm.wait_synced(10)
        controller = built[0]
        for _ in range(6):  # both workers went round their loop several times, not leading...
            assert asked.acquire(timeout=10)
        assert controller.done == []  # ...and reconciled nothing
        leading.set()
        assert controller.wait_for("default/a", "default/b", "resynced")  # a failed once, was retried
        with controller.changed:  # the resync ticker keeps going
            assert controller.changed.wait_for(lambda: controller.done.count("resynced") >= 2, timeout=10)
    finally:
        stop.set()
        runner.join(10)
    assert not runner.is_alive()
