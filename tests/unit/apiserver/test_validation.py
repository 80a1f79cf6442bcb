"""Object validation: every problem is a 422 `Invalid` whose `details.causes` name the
field, as Kubernetes' field.ErrorList does; a valid object passes untouched; a body of
any shape is a field error, never a crash (which the API server would answer 500).

Where the rest of a message is prose, only the field and the kind of error are pinned
("Invalid value", "Required value", ... Kubernetes' field.ErrorType wording)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from control_plane.api import paths
from control_plane.api.objects import Obj
from control_plane.apiserver.errors import ApiError
from control_plane.apiserver.validation import validate

PODS, DEPLOYMENTS, NODES, SERVICES, NAMESPACES, LEASES, EVENTS = (
    paths.resource(r) for r in ("pods", "deployments", "nodes", "services", "namespaces", "leases", "events"))


def pod(**container: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox", **container}]}}


def deployment(**spec: Any) -> Obj:
    base: Obj = {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web", "tier": "front"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    base.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": base}


def causes(res: Any, obj: Any, namespace: str | None = "default") -> dict[str, str]:
    """The 422's causes as {field: message}; fails if the object is accepted (or crashes)."""
    with pytest.raises(ApiError) as info:
        validate(res, obj, namespace)
    err = info.value
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.details is not None
    found = {c["field"]: c["message"] for c in err.details["causes"]}
    for field, message in found.items():
        assert f"{field}: {message}" in err.message  # the message lists every cause too
    return found


def kinds(res: Any, obj: Any, namespace: str | None = "default") -> dict[str, str]:
    """{field: the kind of error}, e.g. {"spec.replicas": "Invalid value"}."""
    return {field: message.split(":")[0] for field, message in causes(res, obj, namespace).items()}


# ---- valid objects ------------------------------------------------------------------
@pytest.mark.parametrize(("res", "obj"), [
    (PODS, pod()),
    (PODS, pod(command=["sh", "-c", "true"], args=["x"], env=[{"name": "A", "value": "1"}],
               resources={"requests": {"cpu": "500m", "memory": "128Mi"},
                          "limits": {"cpu": 1, "memory": "1Gi"}})),
    (DEPLOYMENTS, deployment()),
    (DEPLOYMENTS, deployment(replicas=0)),
    (NODES, {"metadata": {"name": "w1"}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}],
                                                   "unschedulable": True}}),
    (SERVICES, {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    (NAMESPACES, {"metadata": {"name": "team-a"}}),
    (LEASES, {"metadata": {"name": "kube-scheduler"}, "spec": {"holderIdentity": "m1",
                                                                "leaseDurationSeconds": 15}}),
    (EVENTS, {"metadata": {"name": "e.1"}, "involvedObject": {"kind": "Pod", "name": "web"}}),
])
def test_valid_objects_pass_and_are_not_changed(res: Any, obj: Obj) -> None:
    before = copy.deepcopy(obj)
    validate(res, obj, "default")
    assert obj == before


def test_unknown_fields_are_kept_for_forward_compatibility() -> None:
    obj = pod(futureField={"x": 1})
    obj["spec"]["somethingNew"] = True
    validate(PODS, obj, "default")


# ---- the body and metadata ----------------------------------------------------------
@pytest.mark.parametrize("body", [[], "pod", None, 3])
def test_a_body_that_is_not_an_object(body: Any) -> None:
    assert kinds(PODS, body) == {"": "Invalid value"}


def test_metadata_is_required() -> None:
    assert kinds(PODS, {"spec": pod()["spec"]}) == {"metadata": "Required value"}


def test_kind_and_api_version_must_match_the_path() -> None:
    obj = pod()
    obj["kind"], obj["apiVersion"] = "Deployment", "apps/v1"
    found = causes(PODS, obj)
    assert found["kind"] == 'Invalid value: "Deployment": must be Pod'
    assert found["apiVersion"] == 'Invalid value: "apps/v1": must be v1'


@pytest.mark.parametrize("name", ["Web", "web_1", "-web", "web-", "a" * 254, "web..x", "wéb"])
def test_a_bad_name_is_not_a_dns_subdomain(name: str) -> None:
    obj = pod()
    obj["metadata"]["name"] = name
    found = causes(PODS, obj)
    assert list(found) == ["metadata.name"]
    assert found["metadata.name"].startswith(f'Invalid value: "{name}": a lowercase RFC 1123 subdomain')


@pytest.mark.parametrize("name", [None, "", 5])
def test_a_missing_name_is_required(name: Any) -> None:
    obj = pod()
    obj["metadata"]["name"] = name
    assert kinds(PODS, obj) == {"metadata.name": "Required value"}


def test_names_may_be_subdomains_but_namespaces_and_services_need_dns_labels() -> None:
    # Kubernetes: most names are DNS-1123 subdomains (dots allowed, 253 chars); a
    # Namespace or a Service name becomes a DNS label, so no dots and at most 63 chars.
    obj = pod()
    obj["metadata"]["name"] = "web.v2." + "a" * 200
    validate(PODS, obj, "default")
    for res in (NAMESPACES, SERVICES):
        assert "RFC 1123 label" in causes(res, {"metadata": {"name": "web.v2"}})["metadata.name"]
        assert "RFC 1123 label" in causes(res, {"metadata": {"name": "a" * 64}})["metadata.name"]
    validate(NAMESPACES, {"metadata": {"name": "a" * 63}}, None)


@pytest.mark.parametrize(("labels", "field"), [
    ({"bad key!": "v"}, "metadata.labels[bad key!]"),
    ({"app": "has space"}, "metadata.labels[app]"),
    ({"app": "-starts-with-dash"}, "metadata.labels[app]"),
    ({"app": "a" * 64}, "metadata.labels[app]"),
    ({"app": 3}, "metadata.labels[app]"),
    ({"example.com/" + "k" * 64: "v"}, "metadata.labels[example.com/" + "k" * 64 + "]"),
])
def test_bad_labels_name_the_label(labels: Obj, field: str) -> None:
    obj = pod()
    obj["metadata"]["labels"] = labels
    assert kinds(PODS, obj) == {field: "Invalid value"}


def test_labels_with_a_prefix_and_empty_values_are_fine() -> None:
    # Kubernetes label syntax: an optional DNS prefix and "/", a name of at most 63
    # characters; a value may be empty.
    obj = pod()
    obj["metadata"]["labels"] = {"app.kubernetes.io/name": "web", "node-role.kubernetes.io/control-plane": ""}
    validate(PODS, obj, "default")


def test_labels_must_be_a_map() -> None:
    obj = pod()
    obj["metadata"]["labels"] = ["app=web"]
    assert kinds(PODS, obj) == {"metadata.labels": "Invalid value"}


def test_the_namespace_in_the_body_must_match_the_url() -> None:
    obj = pod()
    obj["metadata"]["namespace"] = "other"
    assert kinds(PODS, obj, "default") == {"metadata.namespace": "Invalid value"}
    obj["metadata"]["namespace"] = "default"
    validate(PODS, obj, "default")


def test_every_problem_is_reported_at_once() -> None:
    obj = pod(name="Bad_Name", command="not-a-list")
    obj["metadata"]["name"] = "Bad"
    obj["spec"]["restartPolicy"] = "Sometimes"
    assert set(causes(PODS, obj)) == {"metadata.name", "spec.containers[0].name",
                                      "spec.containers[0].command", "spec.restartPolicy"}


def test_the_error_names_the_object_and_kind() -> None:
    with pytest.raises(ApiError) as info:
        validate(PODS, pod(name="Bad"), "default")
    assert info.value.details is not None
    assert (info.value.details["kind"], info.value.details["name"]) == ("Pod", "web")
    assert info.value.message.startswith('Pod "web" is invalid: spec.containers[0].name: ')
    assert info.value.status()["code"] == 422


# ---- pod specs ----------------------------------------------------------------------
def test_a_pod_needs_a_spec_with_containers() -> None:
    no_spec = pod()
    del no_spec["spec"]
    assert kinds(PODS, no_spec) == {"spec": "Required value"}
    for containers in ([], None, "c"):
        obj = pod()
        obj["spec"]["containers"] = containers
        assert kinds(PODS, obj) == {"spec.containers": "Required value"}


@pytest.mark.parametrize(("container", "field"), [
    ({"name": "Web"}, "spec.containers[0].name"),
    ({"name": "web.1"}, "spec.containers[0].name"),  # a container name is a DNS label: no dots
    ({"name": None}, "spec.containers[0].name"),
    ({"command": "sleep 1"}, "spec.containers[0].command"),
    ({"args": ["ok", 1]}, "spec.containers[0].args"),
    ({"env": [{"value": "x"}]}, "spec.containers[0].env[0].name"),
    ({"env": [{"name": ""}]}, "spec.containers[0].env[0].name"),
    ({"env": [{"name": "A", "value": 1}]}, "spec.containers[0].env[0].value"),
    ({"resources": {"limits": {"memory": "lots"}}}, "spec.containers[0].resources.limits.memory"),
    ({"resources": {"requests": {"cpu": "1.5.0"}}}, "spec.containers[0].resources.requests.cpu"),
    ({"resources": {"requests": {"cpu": True}}}, "spec.containers[0].resources.requests.cpu"),
    ({"resources": {"limits": {"cpu": None}}}, "spec.containers[0].resources.limits.cpu"),
])
def test_bad_containers_name_the_field(container: Obj, field: str) -> None:
    assert list(causes(PODS, pod(**container))) == [field]


@pytest.mark.parametrize(("container", "field"), [
    ({"resources": "1Gi"}, "spec.containers[0].resources"),
    ({"resources": {"limits": ["1Gi"]}}, "spec.containers[0].resources.limits"),
    ({"env": 5}, "spec.containers[0].env"),
    ({"env": {"A": "1"}}, "spec.containers[0].env"),
])
def test_containers_of_the_wrong_shape_are_422_not_a_crash(container: Obj, field: str) -> None:
    assert kinds(PODS, pod(**container)) == {field: "Invalid value"}


@pytest.mark.parametrize(("part", "resource", "qty"), [
    ("limits", "cpu", "-1"), ("limits", "memory", "-128Mi"), ("requests", "cpu", -0.5),
    ("requests", "memory", "-1e3"),
])
def test_a_negative_limit_or_request_is_refused(part: str, resource: str, qty: Any) -> None:
    # Kubernetes: "must be greater than or equal to 0" (ValidateNonnegativeQuantity); a
    # negative limit would otherwise reach the runtime as a cgroup value.
    found = causes(PODS, pod(resources={part: {resource: qty}}))
    assert found == {f"spec.containers[0].resources.{part}.{resource}":
                     f"Invalid value: quantity must not be negative, got {str(qty)!r}"}


def test_a_zero_limit_is_allowed() -> None:
    validate(PODS, pod(resources={"limits": {"cpu": "0", "memory": 0}}), "default")


def test_duplicate_container_names() -> None:
    obj = pod()
    obj["spec"]["containers"].append({"name": "c", "image": "busybox"})
    assert causes(PODS, obj) == {"spec.containers[1].name": 'Duplicate value: "c"'}


def test_a_container_that_is_not_an_object() -> None:
    obj = pod()
    obj["spec"]["containers"].append("sidecar")
    assert kinds(PODS, obj) == {"spec.containers[1]": "Invalid value"}


@pytest.mark.parametrize("policy", ["Always", "OnFailure", "Never"])
def test_restart_policies(policy: str) -> None:
    obj = pod()
    obj["spec"]["restartPolicy"] = policy
    validate(PODS, obj, "default")
    obj["spec"]["restartPolicy"] = policy.lower()  # Kubernetes' enums are case-sensitive
    assert kinds(PODS, obj) == {"spec.restartPolicy": "Unsupported value"}


def test_node_name_must_be_a_string() -> None:
    obj = pod()
    obj["spec"]["nodeName"] = 7
    assert kinds(PODS, obj) == {"spec.nodeName": "Invalid value"}


# ---- deployments --------------------------------------------------------------------
@pytest.mark.parametrize("replicas", [-1, "3", 1.5, True])  # JSON true is not a number
def test_bad_replicas(replicas: Any) -> None:
    assert kinds(DEPLOYMENTS, deployment(replicas=replicas)) == {"spec.replicas": "Invalid value"}


def test_replicas_may_be_left_out() -> None:
    obj = deployment()
    del obj["spec"]["replicas"]
    validate(DEPLOYMENTS, obj, "default")


def test_the_selector_must_match_the_template_labels() -> None:
    found = causes(DEPLOYMENTS, deployment(selector={"matchLabels": {"app": "api"}}))
    assert list(found) == ["spec.template.metadata.labels"]
    assert "`selector` does not match template `labels`" in found["spec.template.metadata.labels"]  # as k8s


def test_selector_and_template_labels_are_required() -> None:
    obj = deployment(selector={})
    del obj["spec"]["template"]["metadata"]
    assert kinds(DEPLOYMENTS, obj) == {"spec.selector.matchLabels": "Required value",
                                       "spec.template.metadata.labels": "Required value"}


def test_the_template_spec_is_checked_like_a_pod_spec() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"memory": "-1Gi"}}
    assert list(causes(DEPLOYMENTS, obj)) == ["spec.template.spec.containers[0].resources.limits.memory"]


@pytest.mark.parametrize(("spec", "field"), [
    ("web", "spec"),
    ({"selector": {"matchLabels": {"app": "web"}}, "template": "web"}, "spec.template"),
])
def test_a_deployment_spec_of_the_wrong_shape_is_422_not_a_crash(spec: Any, field: str) -> None:
    obj = deployment()
    obj["spec"] = spec
    assert field in causes(DEPLOYMENTS, obj)


# ---- nodes, services, leases, events -----------------------------------------------
def test_node_taints() -> None:
    obj: Obj = {"metadata": {"name": "w1"}, "spec": {"taints": [
        {"key": "a", "effect": "NoExecute"}, {"effect": "NoSchedule"}, {"key": "b", "effect": "Sometimes"},
        "x"]}}
    assert kinds(NODES, obj) == {"spec.taints[1].key": "Required value",
                                 "spec.taints[2].effect": "Unsupported value",
                                 "spec.taints[3].key": "Required value"}


def test_node_taints_and_unschedulable_types() -> None:
    obj: Obj = {"metadata": {"name": "w1"}, "spec": {"taints": {"key": "a"}, "unschedulable": "yes"}}
    assert kinds(NODES, obj) == {"spec.taints": "Invalid value", "spec.unschedulable": "Invalid value"}


@pytest.mark.parametrize("port", [0, 65536, -1, "80", True, None])
def test_service_ports_are_1_to_65535(port: Any) -> None:
    obj: Obj = {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}, {"port": port}]}}
    assert kinds(SERVICES, obj) == {"spec.ports[1].port": "Invalid value"}


def test_service_selector_is_a_map() -> None:
    obj: Obj = {"metadata": {"name": "web"}, "spec": {"selector": "app=web"}}
    assert kinds(SERVICES, obj) == {"spec.selector": "Invalid value"}


def test_lease_field_types() -> None:
    obj: Obj = {"metadata": {"name": "l"}, "spec": {"holderIdentity": 1, "leaseDurationSeconds": "15"}}
    assert kinds(LEASES, obj) == {"spec.holderIdentity": "Invalid value",
                                  "spec.leaseDurationSeconds": "Invalid value"}


def test_an_event_needs_its_involved_object() -> None:
    assert kinds(EVENTS, {"metadata": {"name": "e"}}) == {"involvedObject": "Required value"}
