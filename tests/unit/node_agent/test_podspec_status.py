"""From pod specs to what runs, and from runtime states to pod status: pure, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from node_agent.podspec import Backoff, ConfigProblem, container_spec, environment, restarts_allowed
from node_agent.podstatus import ContainerView, container_status, phase, pod_status
from node_agent.runtime.base import ContainerState

Obj = dict[str, Any]
POD: Obj = {"metadata": {"name": "web", "namespace": "shop", "uid": "u1"}, "spec": {"nodeName": "w1"}}


def test_container_spec_joins_command_and_args_and_limits() -> None:
    c = {
        "name": "c",
        "command": ["python3", "-c"],
        "args": ["print(1)"],
        "workingDir": "/tmp",
        "env": [
            {"name": "A", "value": "1"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}},
    }
    spec = container_spec(POD, c, "u1", "127.0.1.4")
    assert spec.argv == ["python3", "-c", "print(1)"] and spec.working_dir == "/tmp"
    assert spec.env == {"A": "1", "POD": "web"}
    assert spec.memory_limit == 64 * 1024 * 1024 and spec.cpu_limit_m == 500
    assert (spec.pod_namespace, spec.pod_name, spec.name) == ("shop", "web", "c")


@pytest.mark.parametrize(
    ("container", "says"),
    [
        ({"name": "c", "image": "nginx"}, "has none"),
        (
            {"name": "c", "command": ["x"], "env": [{"name": "S", "valueFrom": {"secretKeyRef": {}}}]},
            "fieldRef",
        ),
        ({"name": "c", "command": ["x"], "resources": {"limits": {"memory": "lots"}}}, "bad resource limit"),
    ],
)
def test_what_cannot_run_is_a_visible_reason(container: Obj, says: str) -> None:
    with pytest.raises(ConfigProblem) as err:
        container_spec(POD, container, "u1", "127.0.1.4")
    assert err.value.reason == "CreateContainerConfigError" and says in err.value.message


def test_downward_api() -> None:
    env = environment(
        POD,
        {
            "env": [
                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            ]
        },
        "127.0.1.9",
    )
    assert env == {"IP": "127.0.1.9", "N": "w1"}


@pytest.mark.parametrize(
    ("policy", "code", "restart"),
    [
        (None, 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 2, True),
        ("Never", 1, False),
        ("Never", 0, False),
    ],
)
def test_restart_policy(policy: str | None, code: int, restart: bool) -> None:
    assert restarts_allowed(policy, code) is restart


def test_crash_loop_backoff_doubles_to_a_cap() -> None:
    b = Backoff(10, 300)
    assert [b.delay(n) for n in range(0, 8)] == [0, 10, 20, 40, 80, 160, 300, 300]


RUNNING = ContainerState("running", pid=1, started_at=100.0)
DONE = ContainerState("exited", started_at=100.0, finished_at=110.0, exit_code=0, reason="Completed")
FAILED = ContainerState("exited", started_at=100.0, finished_at=110.0, exit_code=2, reason="Error")


@pytest.mark.parametrize(
    ("policy", "states", "expected"),
    [
        ("Always", [None], "Pending"),
        ("Always", [RUNNING, None], "Pending"),
        ("Always", [RUNNING], "Running"),
        ("Always", [FAILED], "Running"),
        ("Never", [DONE, DONE], "Succeeded"),
        ("Never", [DONE, FAILED], "Failed"),
        ("Never", [DONE, RUNNING], "Running"),
        ("OnFailure", [DONE], "Succeeded"),
        ("OnFailure", [FAILED], "Running"),
    ],
)
def test_phase(policy: str, states: list[ContainerState | None], expected: str) -> None:
    views = [ContainerView(f"c{i}", "img", s) for i, s in enumerate(states)]
    assert phase(policy, views) == expected


def test_container_states_and_conditions() -> None:
    waiting = container_status(
        ContainerView("c", "img", FAILED, ("CrashLoopBackOff", "back-off 10s"), 3, False, FAILED)
    )
    assert waiting["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}
    assert waiting["lastState"]["terminated"]["exitCode"] == 2 and waiting["restartCount"] == 3
    oom = container_status(
        ContainerView("c", "img", ContainerState("exited", exit_code=137, reason="OOMKilled"))
    )
    assert oom["state"]["terminated"]["reason"] == "OOMKilled"
    pod = {"metadata": {"name": "p"}, "spec": {}}
    status = pod_status(pod, [ContainerView("c", "img", RUNNING, ready=True)], "127.0.1.4", 100.0, {})
    assert status["phase"] == "Running" and status["podIP"] == "127.0.1.4"
    ready = {c["type"]: c["status"] for c in status["conditions"]}
    assert ready == {
        "PodScheduled": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }
    again = pod_status(pod, [ContainerView("c", "img", RUNNING, ready=True)], "127.0.1.4", 100.0, status)
    assert again == status  # unchanged: nothing to write
