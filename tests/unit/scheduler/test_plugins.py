"""Scheduler plugins, table-driven over node views (pure functions, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from control_plane.scheduler import plugins
from control_plane.scheduler.framework import Rejection, schedule
from control_plane.scheduler.profile import BIN_PACKING_PROFILE
from control_plane.scheduler.view import NodeView, PodView, Taint
from tests.unit.scheduler import views
from tests.unit.scheduler.views import node, pod

GI = views.GI





def _required(expression: dict[str, Any]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [expression]}]}}}


CONTROL_PLANE = Taint("node-role.kubernetes.io/control-plane", "", "NoSchedule")


@pytest.mark.parametrize(("check", "the_pod", "the_node", "expect"), [
    (plugins.node_ready, pod(), node("n", ready=False), "node(s) were not ready"),
    (plugins.node_ready, pod(), node("n"), None),
    (plugins.node_unschedulable, pod(), node("n", unschedulable=True), "node(s) were unschedulable"),
    (plugins.taint_toleration, pod(), node("n", taints=[CONTROL_PLANE]),
     "node(s) had untolerated taint {node-role.kubernetes.io/control-plane}"),
    (plugins.taint_toleration, pod(tolerations=[{"key": CONTROL_PLANE.key, "operator": "Exists",
                                                 "effect": "NoSchedule"}]),
     node("n", taints=[CONTROL_PLANE]), None),
    (plugins.taint_toleration, pod(tolerations=[{"operator": "Exists"}]), node("n", taints=[CONTROL_PLANE]),
     None),
    (plugins.taint_toleration, pod(), node("n", taints=[Taint("soft", "x", "PreferNoSchedule")]), None),
    (plugins.taint_toleration, pod(tolerations=[{"key": "k", "value": "a", "effect": "NoExecute"}]),
     node("n", taints=[Taint("k", "b", "NoExecute")]), "node(s) had untolerated taint {k: b}"),
    (plugins.node_selector, pod(nodeSelector={"disk": "ssd"}), node("n", labels={"disk": "hdd"}),
     "node(s) didn't match Pod's node affinity/selector"),
    (plugins.node_selector, pod(nodeSelector={"disk": "ssd"}), node("n", labels={"disk": "ssd"}), None),
    (plugins.node_selector, pod(affinity=_required({"key": "zone", "operator": "In", "values": ["a", "b"]})),
     node("n", labels={"zone": "c"}), "node(s) didn't match Pod's node affinity/selector"),
    (plugins.node_selector, pod(affinity=_required({"key": "gpu", "operator": "DoesNotExist"})),
     node("n", labels={"zone": "c"}), None),
    (plugins.resources_fit, pod(cpu="3"), node("n"), "Insufficient cpu"),
    (plugins.resources_fit, pod(mem="5Gi"), node("n"), "Insufficient memory"),
    (plugins.resources_fit, pod(cpu="500m"), node("n", requested_cpu_m=1600), "Insufficient cpu"),
    (plugins.resources_fit, pod(cpu="400m"), node("n", requested_cpu_m=1600), None),
])
def test_filters(check: plugins.Filter, the_pod: PodView, the_node: NodeView, expect: str | None) -> None:
    assert check(the_pod, the_node) == expect


def test_scores_prefer_room_or_packing_or_idle_machines() -> None:
    p = pod(cpu="500m", mem="512Mi")
    empty, busy = node("empty"), node("busy", requested_cpu_m=1000, requested_mem=2 * GI)
    assert plugins.least_allocated(p, empty) > plugins.least_allocated(p, busy)
    assert plugins.most_allocated(p, busy) > plugins.most_allocated(p, empty)
    lopsided = node("lopsided", requested_cpu_m=1500, requested_mem=0)
    assert plugins.balanced_allocation(p, empty) > plugins.balanced_allocation(p, lopsided)
    idle = node("idle", used_cpu_fraction=0.05, used_mem_fraction=0.2)
    loaded = node("loaded", used_cpu_fraction=0.95, used_mem_fraction=0.8)
    assert plugins.load_aware(p, idle) > plugins.load_aware(p, loaded)
    assert plugins.load_aware(p, node("silent")) == 50.0
    for plugin in (plugins.LEAST_ALLOCATED, plugins.MOST_ALLOCATED, plugins.BALANCED_ALLOCATION,
                   plugins.LOAD_AWARE):
        assert 0.0 <= plugin.score(p, busy) <= 100.0


def test_schedule_picks_and_explains() -> None:
    nodes = [node("m1", taints=[CONTROL_PLANE]), node("m2", taints=[CONTROL_PLANE]),
             node("w1", mem=GI), node("w2", used_cpu_fraction=0.9, used_mem_fraction=0.9),
             node("w3", used_cpu_fraction=0.1, used_mem_fraction=0.1)]
    d = schedule(pod(mem="2Gi"), nodes)
    assert d.node == "w3"  # live load breaks the tie between the two empty workers
    untolerated = Rejection("TaintToleration",
                            "node(s) had untolerated taint {node-role.kubernetes.io/control-plane}")
    assert d.diagnosis.nodes == {"m1": untolerated, "m2": untolerated,
                                 "w1": Rejection("NodeResourcesFit", "Insufficient memory")}
    nothing = schedule(pod(mem="8Gi"), nodes)
    assert nothing.node is None
    assert nothing.message == ("0/5 nodes are available: 3 Insufficient memory, "
                               "2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane}.")


def test_bin_packing_fills_the_fuller_node_first() -> None:
    nodes = [node("a", requested_cpu_m=1000, requested_mem=2 * GI), node("b")]
    assert schedule(pod(), nodes).node == "b"
    assert schedule(pod(), nodes, BIN_PACKING_PROFILE).node == "a"


def test_ties_are_broken_by_name_and_bound_pods_count_once() -> None:
    n = node("same")
    p = pod(cpu="250m")
    n.add_pod(p)
    n.add_pod(p)
    assert n.requested_cpu_m == 250
    assert schedule(pod(), [node("b"), node("a")]).node == "a"


def test_views_from_api_objects() -> None:
    obj = {"metadata": {"name": "w1", "labels": {"kubernetes.io/hostname": "w1"}},
           "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}], "unschedulable": True},
           "status": {"allocatable": {"cpu": "2", "memory": "4Gi"},
                      "conditions": [{"type": "Ready", "status": "True"}],
                      "usage": {"cpuFraction": "0.25", "memoryFraction": 2}}}
    v = NodeView.from_object(obj)
    assert (v.alloc_cpu_m, v.alloc_mem, v.ready, v.unschedulable) == (2000, 4 * GI, True, True)
    assert v.taints == [Taint("k", "", "NoSchedule")] and v.used_mem_fraction == 1.0
