"""The pod worker's decisions with an in-memory runtime and API (time injected)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from control_plane.client.apiclient import ApiClient
from node_agent.podspec import Backoff
from node_agent.podworker import PodWorker
from node_agent.runtime.base import Capabilities, ContainerSpec, ContainerState

Obj = dict[str, Any]


class FakeRuntime:
    def __init__(self) -> None:
        self.states: dict[tuple[str, str], ContainerState] = {}
        self.started: list[ContainerSpec] = []
        self.stopped: list[tuple[str, str, float]] = []
        self.now = 1000.0

    def capabilities(self) -> Capabilities:
        return Capabilities(None, False, False, "fake")

    def start(self, spec: ContainerSpec) -> ContainerState:
        self.started.append(spec)
        state = ContainerState("running", pid=len(self.started), started_at=self.now)
        self.states[(spec.pod_uid, spec.name)] = state
        return state

    def status(self, pod_uid: str, name: str) -> ContainerState | None:
        return self.states.get((pod_uid, name))

    def stop(self, pod_uid: str, name: str, grace: float) -> None:
        self.stopped.append((pod_uid, name, grace))
        self.exit(pod_uid, name, 137)

    def exit(self, pod_uid: str, name: str, code: int) -> None:
        old = self.states[(pod_uid, name)]
        self.states[(pod_uid, name)] = ContainerState("exited", None, old.started_at, self.now, code,
                                                      "Completed" if code == 0 else "Error")

    def remove(self, pod_uid: str, name: str) -> None:
        self.states.pop((pod_uid, name), None)

    def containers(self) -> list[tuple[str, str]]:
        return list(self.states)

    def log_path(self, pod_uid: str, name: str, previous: bool = False) -> Path:
        return Path("/dev/null")


class RuntimeClock:
    """The fake runtime's time, as a `Clock`."""

    def __init__(self, runtime: FakeRuntime) -> None:
        self.runtime = runtime

    def time(self) -> float:
        return self.runtime.now

    def monotonic(self) -> float:
        return self.runtime.now


class FakeApi:
    def __init__(self) -> None:
        self.statuses: list[tuple[str, Obj]] = []
        self.deleted: list[tuple[str, int | None]] = []

    def replace(self, path: str, body: Obj) -> Obj:
        self.statuses.append((path, body["status"]))
        return body

    def delete(self, path: str, grace: int | None = None) -> Obj:
        self.deleted.append((path, grace))
        return {}


def pod(policy: str = "Always", deleting: bool = False) -> Obj:
    meta: Obj = {"name": "p", "namespace": "default", "uid": "u1"}
    if deleting:
        meta.update(deletionTimestamp="2026-01-01T00:00:00Z", deletionGracePeriodSeconds=7)
    return {"metadata": meta, "spec": {"nodeName": "w1", "restartPolicy": policy,
                                       "containers": [{"name": "c", "image": "i", "command": ["run"]}]}}


def setup(policy: str = "Always") -> tuple[PodWorker, FakeRuntime, FakeApi]:
    runtime, api = FakeRuntime(), FakeApi()
    worker = PodWorker(cast(ApiClient, api), runtime, "w1", "127.0.1.4", Backoff(10, 40),
                       clock=RuntimeClock(runtime))
    worker.on_api_pod("ADDED", pod(policy))
    return worker, runtime, api


def last_state(api: FakeApi) -> Obj:
    return dict(api.statuses[-1][1]["containerStatuses"][0])


def test_start_then_crash_loop_back_off_then_restart() -> None:
    worker, runtime, api = setup()
    worker.sync("u1")
    assert len(runtime.started) == 1 and api.statuses[-1][1]["phase"] == "Running"
    runtime.now += 5
    runtime.exit("u1", "c", 1)
    worker.sync("u1")
    assert last_state(api)["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert len(runtime.started) == 1  # waiting out the 10 s back-off
    runtime.now += 10
    worker.sync("u1")
    status = last_state(api)
    assert len(runtime.started) == 2 and status["restartCount"] == 1
    assert status["lastState"]["terminated"]["exitCode"] == 1 and "running" in status["state"]
    runtime.now += 1
    runtime.exit("u1", "c", 1)
    worker.sync("u1")
    runtime.now += 10
    worker.sync("u1")
    assert len(runtime.started) == 2  # the second back-off is 20 s
    runtime.now += 10
    worker.sync("u1")
    assert len(runtime.started) == 3 and last_state(api)["restartCount"] == 2


def test_never_policy_ends_in_failed_or_succeeded() -> None:
    worker, runtime, api = setup("Never")
    worker.sync("u1")
    runtime.exit("u1", "c", 3)
    runtime.now += 60
    worker.sync("u1")
    assert api.statuses[-1][1]["phase"] == "Failed" and len(runtime.started) == 1


def test_graceful_deletion_stops_then_confirms() -> None:
    worker, runtime, api = setup()
    worker.sync("u1")
    worker.on_api_pod("MODIFIED", pod(deleting=True))
    worker.sync("u1")
    assert runtime.stopped == [("u1", "c", 7.0)]
    assert api.deleted == [("/api/v1/namespaces/default/pods/p", 0)]
    assert runtime.containers() == []  # forgotten after the confirmation


def test_a_pod_gone_from_the_api_is_stopped() -> None:
    worker, runtime, _ = setup()
    worker.sync("u1")
    worker.on_api_pod("DELETED", pod())
    worker.sync("u1")
    assert runtime.stopped and runtime.containers() == []


def test_a_container_the_runtime_cannot_run_waits_with_a_reason() -> None:
    worker, runtime, api = setup()
    bad = pod()
    del bad["spec"]["containers"][0]["command"]
    worker.on_api_pod("MODIFIED", bad)
    worker.sync("u1")
    waiting = last_state(api)["state"]["waiting"]
    assert waiting["reason"] == "CreateContainerConfigError" and "has none" in waiting["message"]
    assert api.statuses[-1][1]["phase"] == "Pending" and runtime.started == []


def test_an_unchanged_status_is_posted_again_when_asked() -> None:
    # A static pod's mirror was created again (new manifest): the last report may have
    # gone to the mirror it replaced, so the same status must be posted once more.
    worker, _runtime, api = setup()
    worker.sync("u1")
    worker.sync("u1")
    posted = len(api.statuses)
    assert posted == 1  # nothing changed: nothing posted
    worker.report_again("u1")
    worker.sync("u1")
    assert len(api.statuses) == 2 and api.statuses[-1] == api.statuses[0]
