"""The shared readings of API objects (`control_plane.api.objects`), case by case."""

from __future__ import annotations

import pytest

from control_plane.api import objects
from control_plane.api.objects import Obj


def node(ready: str | None) -> Obj:
    conditions = [{"type": "MemoryPressure", "status": "False"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    return {"metadata": {"name": "w1"}, "status": {"conditions": conditions}}


@pytest.mark.parametrize(("ready", "expected"), [("True", True), ("False", False), ("Unknown", False),
                                                 (None, False)])
def test_node_ready_reads_the_ready_condition_only(ready: str | None, expected: bool) -> None:
    assert objects.is_node_ready(node(ready)) is expected


def test_missing_or_malformed_status_reads_as_not_ready() -> None:
    assert not objects.is_node_ready({})
    assert not objects.is_node_ready({"status": {"conditions": ["junk", {"type": "Ready"}]}})
    assert objects.condition({"status": None}, "Ready") is None


def test_pod_ready_needs_running_and_the_ready_condition() -> None:
    ready = {"type": "Ready", "status": "True"}
    assert objects.is_pod_ready({"status": {"phase": "Running", "conditions": [ready]}})
    assert not objects.is_pod_ready({"status": {"phase": "Pending", "conditions": [ready]}})
    assert not objects.is_pod_ready({"status": {"phase": "Running", "conditions": []}})


@pytest.mark.parametrize(("phase", "terminal"), [("Succeeded", True), ("Failed", True), ("Running", False),
                                                 ("Pending", False), (None, False)])
def test_terminal_phases(phase: str | None, terminal: bool) -> None:
    assert objects.is_terminal({"status": {"phase": phase}}) is terminal


def test_object_key_namespaced_and_cluster_scoped() -> None:
    assert objects.object_key({"metadata": {"namespace": "kube-system", "name": "dns"}}) == "kube-system/dns"
    assert objects.object_key({"metadata": {"name": "w1"}}) == "w1"
    assert objects.namespace_of({"metadata": {"name": "x"}}) == "default"


def test_mirror_terminating_and_controller() -> None:
    pod: Obj = {"metadata": {"annotations": {objects.MIRROR_ANNOTATION: "abc"},
                             "deletionTimestamp": "2026-01-01T00:00:00Z",
                             "ownerReferences": [{"kind": "X", "name": "a"},
                                                 {"kind": "ReplicaSet", "name": "b", "controller": True}]}}
    assert objects.is_mirror(pod) and objects.is_terminating(pod)
    assert objects.controller_of(pod) == {"kind": "ReplicaSet", "name": "b", "controller": True}
    assert not objects.is_mirror({}) and not objects.is_terminating({}) and objects.controller_of({}) is None


# Kubernetes' Toleration.ToleratesTaint (k8s.io/api/core/v1/toleration.go), case by case.
TAINT = ("node-role.kubernetes.io/control-plane", "", "NoSchedule")


@pytest.mark.parametrize(("toleration", "expected"), [
    ({"operator": "Exists"}, True),  # empty key + Exists: every taint
    ({"key": TAINT[0], "operator": "Exists"}, True),
    ({"key": TAINT[0], "operator": "Exists", "effect": "NoSchedule"}, True),
    ({"key": TAINT[0], "operator": "Exists", "effect": "NoExecute"}, False),  # effect must match if set
    ({"key": TAINT[0]}, True),  # Equal is the default; value "" equals ""
    ({"key": TAINT[0], "operator": "Equal", "value": "x"}, False),
    ({"key": "other", "operator": "Exists"}, False),
    ({}, False),  # Equal with an empty key matches nothing
])
def test_tolerates(toleration: Obj, expected: bool) -> None:
    assert objects.tolerates(toleration, *TAINT) is expected


def test_tolerates_value_match() -> None:
    assert objects.tolerates({"key": "k", "value": "v", "effect": "NoExecute"}, "k", "v", "NoExecute")
    assert not objects.tolerates({"key": "k", "value": "v"}, "k", "w", "NoExecute")
