"""The framework: profiles decide which plugins run, and a diagnosis names, per node,
the plugin that rejected it."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from control_plane.scheduler import plugins
from control_plane.scheduler.framework import Decision, Rejection, schedule
from control_plane.scheduler.profile import (
    BIN_PACKING_PROFILE,
    DEFAULT_PROFILE,
    FILTERS,
    Profile,
    WeightedScore,
)
from control_plane.scheduler.view import NodeView, PodView, Taint
from tests.unit.scheduler import views
from tests.unit.scheduler.views import pod

GI = views.GI
CONTROL_PLANE = Taint("node-role.kubernetes.io/control-plane", "", "NoSchedule")


def node(name: str, cpu_m: int = 2000, mem: int = 4 * GI, **kw: Any) -> NodeView:
    return views.node(name, cpu_m, mem, **{"labels": {"disk": "ssd"}, **kw})


def test_the_diagnosis_names_the_plugin_that_rejected_each_node() -> None:
    nodes = [node("down", ready=False, taints=[CONTROL_PLANE]),  # the first filter to say no is named
             node("cordoned", unschedulable=True), node("master", taints=[CONTROL_PLANE]),
             node("hdd", labels={"disk": "hdd"}), node("small", cpu_m=100)]
    d = schedule(pod(cpu="500m", nodeSelector={"disk": "ssd"}), nodes)
    assert d.node is None
    assert d.diagnosis.nodes == {
        "down": Rejection("NodeReady", "node(s) were not ready"),
        "cordoned": Rejection("NodeUnschedulable", "node(s) were unschedulable"),
        "master": Rejection("TaintToleration",
                            "node(s) had untolerated taint {node-role.kubernetes.io/control-plane}"),
        "hdd": Rejection("NodeAffinity", "node(s) didn't match Pod's node affinity/selector"),
        "small": Rejection("NodeResourcesFit", "Insufficient cpu"),
    }
    assert d.diagnosis.plugins == {"NodeReady", "NodeUnschedulable", "TaintToleration", "NodeAffinity",
                                   "NodeResourcesFit"}
    assert d.message == ("0/5 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node "
                         "affinity/selector, 1 node(s) had untolerated taint "
                         "{node-role.kubernetes.io/control-plane}, 1 node(s) were not ready, "
                         "1 node(s) were unschedulable.")


def test_the_summary_is_built_from_the_diagnosis() -> None:
    """The message the integration test asserts, from a diagnosis alone."""
    nodes = [node("m1", taints=[CONTROL_PLANE]), node("w1", cpu_m=1000), node("w2", cpu_m=1000)]
    d = schedule(pod(cpu="1500m"), nodes)
    assert d.message == ("0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint "
                         "{node-role.kubernetes.io/control-plane}.")
    assert schedule(pod(), []).message == "0/0 nodes are available."


def test_a_limited_walk_diagnoses_only_the_nodes_it_examined() -> None:
    nodes = [node("a", taints=[CONTROL_PLANE]), node("b"), node("c"), node("d")]
    d = schedule(pod(), nodes, limit=1)
    assert (d.node, list(d.diagnosis.nodes), d.examined) == ("b", ["a"], 2)
    d = schedule(pod(), nodes, limit=1, start=2)
    assert (d.node, d.diagnosis.nodes, d.examined) == ("c", {}, 1)


def test_a_profile_runs_exactly_its_plugins() -> None:
    nodes = [node("master", taints=[CONTROL_PLANE]), node("busy", requested_cpu_m=1000, requested_mem=2 * GI)]
    assert schedule(pod(), nodes).node == "busy"
    no_taints = Profile("ignore-taints", tuple(f for f in FILTERS if f is not plugins.TAINT_TOLERATION),
                        DEFAULT_PROFILE.scores)
    assert schedule(pod(), nodes, no_taints).node == "master"
    unscored = Profile("first-fit", FILTERS, (WeightedScore(plugins.LEAST_ALLOCATED, 0.0),))
    d = schedule(pod(), [node("b"), node("a")], unscored)
    assert (d.node, d.scores) == ("a", {"a": 0.0, "b": 0.0})  # a zero weight is off: ties go by name


def test_a_profile_refuses_repeated_plugins_and_negative_weights() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        Profile("x", (plugins.NODE_READY, plugins.NODE_READY), ())
    with pytest.raises(ValueError, match="listed twice"):
        Profile("x", (), (WeightedScore(plugins.LOAD_AWARE, 1), WeightedScore(plugins.LOAD_AWARE, 2)))
    with pytest.raises(ValueError, match=">= 0"):
        Profile("x", (), (WeightedScore(plugins.LOAD_AWARE, -1.0),))


# ---- the profiles decide as the weight tables did before them ---------------------------
OLD_FILTERS = [plugins.node_ready, plugins.node_unschedulable, plugins.taint_toleration,
               plugins.node_selector, plugins.resources_fit]
OLD_SCORES = {"LeastAllocated": plugins.least_allocated, "MostAllocated": plugins.most_allocated,
              "BalancedAllocation": plugins.balanced_allocation, "LoadAware": plugins.load_aware}
OLD_DEFAULT_WEIGHTS = {"LeastAllocated": 1.0, "BalancedAllocation": 1.0, "LoadAware": 1.0}
OLD_BIN_PACKING_WEIGHTS = {"MostAllocated": 1.0, "BalancedAllocation": 1.0, "LoadAware": 0.5}


def old_schedule(p: PodView, nodes: list[NodeView], weights: dict[str, float]) -> tuple[
        str | None, dict[str, float], dict[str, str]]:
    """The framework as it was, with its module-global weight tables (no limit)."""
    scores: dict[str, float] = {}
    rejected: dict[str, str] = {}
    for n in nodes:
        reason = next((r for r in (check(p, n) for check in OLD_FILTERS) if r is not None), None)
        if reason is not None:
            rejected[n.name] = reason
            continue
        total = 0.0
        for name, w in weights.items():
            total += w * OLD_SCORES[name](p, n)
        scores[n.name] = total
    best = min(scores, key=lambda name: (-scores[name], name)) if scores else None
    return best, scores, rejected


def old_message(rejected: dict[str, str], total: int) -> str:
    ordered = sorted(Counter(rejected.values()).items(), key=lambda x: (-x[1], x[0]))
    parts = ", ".join(f"{n} {reason}" for reason, n in ordered)
    return f"0/{total} nodes are available" + (f": {parts}." if parts else ".")


fractions = st.one_of(st.none(), st.floats(0.0, 1.0))
node_specs = st.fixed_dictionaries({
    "cpu_m": st.integers(0, 4000), "mem": st.integers(0, 8).map(lambda g: g * GI),
    "requested_cpu_m": st.integers(0, 3000), "requested_mem": st.integers(0, 6 * GI),
    "taints": st.lists(st.sampled_from([CONTROL_PLANE, Taint("k", "v", "NoExecute"),
                                        Taint("soft", "", "PreferNoSchedule")]), max_size=2, unique=True),
    "unschedulable": st.booleans(), "ready": st.booleans(),
    "labels": st.sampled_from([{}, {"disk": "ssd"}, {"disk": "hdd"}]),
    "used_cpu_fraction": fractions, "used_mem_fraction": fractions,
})
pods = st.builds(lambda cpu, mem, selector, tolerate: pod(
    f"{cpu}m", f"{mem}Mi", nodeSelector=selector,
    tolerations=[{"operator": "Exists"}] if tolerate else []),
    st.integers(0, 3000), st.integers(0, 6000), st.sampled_from([{}, {"disk": "ssd"}]), st.booleans())


@settings(max_examples=300, deadline=None)
@given(st.lists(node_specs, max_size=12), pods)
def test_the_profiles_choose_as_the_weight_tables_did(specs: list[dict[str, Any]], p: PodView) -> None:
    for profile, weights in ((DEFAULT_PROFILE, OLD_DEFAULT_WEIGHTS),
                             (BIN_PACKING_PROFILE, OLD_BIN_PACKING_WEIGHTS)):
        nodes = [node(f"n{i:02d}", **spec) for i, spec in enumerate(specs)]
        d: Decision = schedule(p, nodes, profile)
        best, scores, rejected = old_schedule(p, nodes, weights)
        assert (d.node, d.scores) == (best, scores)  # the same sums, to the last bit
        assert {n: r.reason for n, r in d.diagnosis.nodes.items()} == rejected
        if best is None:
            assert d.message == old_message(rejected, len(nodes))
