"""Regression tests for input that once broke a component (a 500, a dead thread, an
exponential blow-up): each now gets a clear API error naming the field, or is read
safely.  Pure; the HTTP side of the same cases is in tests/integration."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from control_plane.api import objects
from control_plane.api.quantity import cpu_millis, parse_quantity
from control_plane.api.resources import BY_PATH
from control_plane.apiserver import patch
from control_plane.apiserver.context import MAX_DEPTH, _depth
from control_plane.apiserver.errors import ApiError
from control_plane.apiserver.selectors import MAX_SELECTOR, field_selector, label_selector
from control_plane.apiserver.validation import validate, validate_status

PODS = BY_PATH[("", "v1", "pods")]
NODES = BY_PATH[("", "v1", "nodes")]
DEPLOYMENTS = BY_PATH[("apps", "v1", "deployments")]


def pod_with(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"containers": [{"name": "c", "command": ["sleep", "1"]}]}
    base.update(spec)
    return {"metadata": {"name": "p"}, "spec": base}


def container_with(**fields: Any) -> dict[str, Any]:
    return pod_with(containers=[{"name": "c", "command": ["sleep", "1"], **fields}])


def causes_of(res: Any, obj: Any) -> str:
    with pytest.raises(ApiError) as err:
        validate(res, obj, "default")
    assert err.value.code == 422
    return err.value.message


@pytest.mark.parametrize(("obj", "field"), [
    (pod_with(tolerations="all"), "spec.tolerations"),
    (pod_with(tolerations=[5]), "spec.tolerations[0]"),
    (pod_with(tolerations=[{"key": "k", "operator": "Sometimes"}]), "spec.tolerations[0].operator"),
    (pod_with(tolerations=[{"key": "k", "operator": "Exists", "value": "v"}]), "spec.tolerations[0].value"),
    (pod_with(tolerations=[{"operator": "Equal", "value": "v"}]), "spec.tolerations[0].operator"),
    (pod_with(tolerations=[{"key": "k", "effect": "NoWay"}]), "spec.tolerations[0].effect"),
    (pod_with(tolerations=[{"key": "k", "tolerationSeconds": "soon"}]),
     "spec.tolerations[0].tolerationSeconds"),
    (pod_with(nodeSelector=["disk=ssd"]), "spec.nodeSelector"),
    (pod_with(nodeSelector={"disk": 7}), "spec.nodeSelector[disk]"),
    (pod_with(affinity=[]), "spec.affinity"),
    (pod_with(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "Near"}]}]}}}),
     "matchExpressions[0].operator"),
    (pod_with(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "In"}]}]}}}),
     "matchExpressions[0].values"),
    (pod_with(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "n", "operator": "Gt", "values": ["a"]}]}]}}}),
     "matchExpressions[0].values"),
    (pod_with(affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 0, "preference": {}}]}}), "preferredDuringSchedulingIgnoredDuringExecution[0].weight"),
    (pod_with(terminationGracePeriodSeconds="abc"), "spec.terminationGracePeriodSeconds"),
    (pod_with(terminationGracePeriodSeconds=-1), "spec.terminationGracePeriodSeconds"),
    (container_with(env=5), "spec.containers[0].env"),
    (container_with(resources="x"), "spec.containers[0].resources"),
    (container_with(resources={"limits": [1]}), "spec.containers[0].resources.limits"),
    (container_with(resources={"requests": {"cpu": "1e999999"}}),
     "spec.containers[0].resources.requests.cpu"),
    (pod_with(containers=[{"name": ["a", "list"], "command": ["x"]}]), "spec.containers[0].name"),
    ({"metadata": {"name": "d"}, "spec": []}, "spec"),
    ({"metadata": {"name": "d"}, "spec": [1]}, "spec"),
    ({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": []}},
     "spec.template"),
    ({"metadata": {"name": "d"}, "spec": {"strategy": {"type": "Sideways"}}}, "spec.strategy.type"),
    ({"metadata": {"name": "d"}, "spec": {"strategy": {"rollingUpdate": {"maxSurge": "lots"}}}},
     "spec.strategy.rollingUpdate.maxSurge"),
])
def test_fields_components_read_are_validated(obj: Any, field: str) -> None:
    res = DEPLOYMENTS if "template" in str(obj.get("spec")) or obj["metadata"]["name"] == "d" else PODS
    assert field in causes_of(res, obj)


def test_valid_scheduling_fields_pass() -> None:
    validate(PODS, pod_with(
        tolerations=[{"operator": "Exists"}, {"key": "node-role.kubernetes.io/control-plane",
                                             "effect": "NoSchedule"},
                     {"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute",
                      "tolerationSeconds": 30}],
        nodeSelector={"kubernetes.io/hostname": "w1"},
        affinity={"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]},
                                      {"key": "gpu", "operator": "DoesNotExist"},
                                      {"key": "cores", "operator": "Gt", "values": ["4"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "preference": {"matchExpressions": [{"key": "z", "operator": "Exists"}]}}]}},
        terminationGracePeriodSeconds=0), "default")


@pytest.mark.parametrize("text", ["1e999999", "1E", "9.3e15", "1e19m"])
def test_quantities_too_large_for_an_int64_of_millis_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"too large|out of range"):
        parse_quantity(text)


def test_the_largest_quantity_still_converts() -> None:
    assert cpu_millis("9e15") == 9 * 10**18  # an int64 of milli-cores


def test_grace_periods_stored_before_validation_are_read_safely() -> None:
    assert objects.grace_seconds({"spec": {"terminationGracePeriodSeconds": "abc"}}) == 30
    assert objects.grace_seconds({"spec": {"terminationGracePeriodSeconds": 5}}) == 5
    assert objects.deletion_grace_seconds({"metadata": {"deletionGracePeriodSeconds": [1]}}) == 0


def test_node_and_pod_status_writes_are_validated() -> None:
    for status, field in [({"allocatable": {"cpu": "1e999999"}}, "status.allocatable.cpu"),
                          ({"capacity": "lots"}, "status.capacity"),
                          ({"conditions": [{"type": 1}]}, "status.conditions")]:
        with pytest.raises(ApiError) as err:
            validate_status(NODES, "w1", status)
        assert err.value.code == 422 and field in err.value.message
    with pytest.raises(ApiError, match=r"status\.phase"):
        validate_status(PODS, "p", {"phase": "Sleeping"})
    validate_status(NODES, "w1", {"capacity": {"cpu": "4", "memory": "8Gi"},
                                  "conditions": [{"type": "Ready", "status": "True"}]})


def test_body_depth_is_measured_without_recursion() -> None:
    deep: Any = "leaf"
    for _ in range(50_000):  # far past Python's recursion limit
        deep = [deep]
    assert _depth(deep) == MAX_DEPTH + 1  # it stops counting once past the limit
    assert _depth({"a": [{"b": 1}]}) == 3


def test_long_selectors_are_refused_and_spaces_parse() -> None:
    # A 32 KB selector of spaces once took seconds of regex backtracking.
    assert label_selector(" " * 32_000)({})  # blank: matches everything
    spaced = " " * (MAX_SELECTOR - 10) + "app"
    assert label_selector(spaced)({"metadata": {"labels": {"app": "x"}}})
    for parse in (label_selector, field_selector):
        with pytest.raises(ApiError) as err:
            parse("a" * 10 + " " * MAX_SELECTOR + "=b")
        assert err.value.code == 400 and "longer than" in err.value.message


@pytest.mark.parametrize("text", ["!app in (web)", "a in (", "a in (x", "a > b", "=x", "a b", "a==", "ä=1"])
def test_malformed_label_selectors_are_400(text: str) -> None:
    if text == "a==":
        assert label_selector(text)({"metadata": {"labels": {"a": ""}}})  # the empty value
        return
    with pytest.raises(ApiError) as err:
        label_selector(text)
    assert err.value.code == 400


CURRENT = {"metadata": {"name": "p"}, "spec": {"list": [1, 2], "blob": "x" * 800}}
JSON_PATCH = "application/json-patch+json"


def test_sixteen_copies_cannot_blow_up_a_small_patch() -> None:
    ops = [{"op": "copy", "from": "/spec", "path": f"/spec/c{i}"} for i in range(16)]
    with pytest.raises(ApiError) as err:
        patch.apply(copy.deepcopy(CURRENT), ops, JSON_PATCH)
    assert err.value.code == 422 and "larger than" in err.value.message


@pytest.mark.parametrize(("ops", "says"), [
    ([{"op": "remove", "path": ""}], "cannot remove the whole object"),
    ([{"op": "replace", "path": "/spec/list/²", "value": 1}], "does not exist"),
    ([{"op": "add", "path": "/spec/list/01", "value": 1}], "does not exist"),
    ([{"op": "test", "path": "/spec/list/0"}], "patch[0].value"),
    ([{"op": "move", "from": "/spec", "path": "/spec/inside"}], "into itself"),
    ([{"op": "copy", "from": 5, "path": "/x"}], "patch[0].from"),
    ([{"op": "add", "path": "/spec/x", "value": 1}] * (patch.MAX_OPS + 1), "at most"),
])
def test_bad_json_patches_are_422(ops: list[Any], says: str) -> None:
    with pytest.raises(ApiError) as err:
        patch.apply(copy.deepcopy(CURRENT), ops, JSON_PATCH)
    assert err.value.code == 422 and says in err.value.message
