"""The Deployment arithmetic, table-driven, and a simulated rollout checked step by step."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from control_plane.controllers.rollout import HASH_LABEL, plan, resolve, template_hash

Obj = dict[str, Any]
TEMPLATE_V1: Obj = {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "v1"}]}}
TEMPLATE_V2: Obj = {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "v2"}]}}


def deployment(replicas: int, template: Obj = TEMPLATE_V1, surge: Any = 1, unavailable: Any = 0,
               strategy: str = "RollingUpdate") -> Obj:
    return {"metadata": {"name": "web", "namespace": "default", "generation": 2},
            "spec": {"replicas": replicas, "template": template,
                     "strategy": {"type": strategy,
                                  "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}}


def pod(name: str, template: Obj, ready: bool = True, terminating: bool = False) -> Obj:
    meta: Obj = {"name": name, "labels": {HASH_LABEL: template_hash(template)},
                 "creationTimestamp": f"2026-01-01T00:00:{name[-2:]}Z"}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    status: Obj = {"phase": "Running" if ready else "Pending",
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    return {"metadata": meta, "spec": {}, "status": status}


@pytest.mark.parametrize(("value", "replicas", "up", "expected"), [
    (1, 10, True, 1), ("25%", 10, True, 3), ("25%", 10, False, 2), (None, 4, True, 1), ("0%", 5, False, 0),
    ("bad%", 5, True, 0), (-3, 5, True, 0),
])
def test_int_or_percent(value: Any, replicas: int, up: bool, expected: int) -> None:
    assert resolve(value, replicas, up) == expected


def test_scale_up_and_down() -> None:
    assert plan(deployment(3), []).create == 3
    pods = [pod(f"p{i:02d}", TEMPLATE_V1) for i in range(5)]
    pods[4]["status"]["phase"] = "Pending"
    pods[4]["status"]["conditions"][0]["status"] = "False"
    step = plan(deployment(3), pods)
    assert step.create == 0 and len(step.delete) == 2
    assert step.delete[0] == "p04"  # not ready goes first
    assert plan(deployment(3), pods[:3]).create == 0 and plan(deployment(3), pods[:3]).delete == []


def test_terminating_pods_are_replaced() -> None:
    pods = [pod("p01", TEMPLATE_V1), pod("p02", TEMPLATE_V1, terminating=True)]
    assert plan(deployment(2), pods).create == 1


def test_status() -> None:
    pods = [pod("p01", TEMPLATE_V1), pod("p02", TEMPLATE_V1, ready=False)]
    status = plan(deployment(2), pods).status
    assert status["replicas"] == 2 and status["readyReplicas"] == 1 and status["updatedReplicas"] == 2
    assert status["observedGeneration"] == 2 and status["unavailableReplicas"] == 1


def test_recreate_deletes_all_old_first() -> None:
    old = [pod(f"p{i:02d}", TEMPLATE_V1) for i in range(3)]
    step = plan(deployment(3, TEMPLATE_V2, strategy="Recreate"), old)
    assert step.create == 0 and sorted(step.delete) == ["p00", "p01", "p02"]
    assert plan(deployment(3, TEMPLATE_V2, strategy="Recreate"), []).create == 3


def simulate(replicas: int, surge: Any, unavailable: Any) -> list[tuple[int, int]]:
    """Roll v1 -> v2, new pods becoming ready one step after creation; returns
    (total, available) after each step and checks the budgets on the way."""
    d = deployment(replicas, TEMPLATE_V2, surge, unavailable)
    max_surge = resolve(surge, replicas, True)
    max_unavailable = resolve(unavailable, replicas, False) or (0 if max_surge else 1)
    pods = {f"old{i:02d}": pod(f"old{i:02d}", TEMPLATE_V1) for i in range(replicas)}
    seen, n = [], 0
    for _ in range(10 * replicas + 10):
        for p in pods.values():  # what was created last step is ready now
            p["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        step = plan(d, list(pods.values()))
        for name in step.delete:
            del pods[name]
        available = sum(1 for p in pods.values())
        assert available >= replicas - max_unavailable, (step, available)
        for _ in range(step.create):
            n += 1
            pods[f"new{n:02d}"] = pod(f"new{n:02d}", TEMPLATE_V2, ready=False)
        assert len(pods) <= replicas + max_surge
        seen.append((len(pods), available))
        if not step.create and not step.delete and all(k.startswith("new") for k in pods):
            break
    assert len(pods) == replicas and all(k.startswith("new") for k in pods), pods.keys()
    return seen


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.sampled_from([0, 1, 2, "25%", "50%"]), st.sampled_from([0, 1, "25%", "50%"]))
def test_rolling_update_respects_surge_and_unavailability(replicas: int, surge: Any,
                                                          unavailable: Any) -> None:
    simulate(replicas, surge, unavailable)
