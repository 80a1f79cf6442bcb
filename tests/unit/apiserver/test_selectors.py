"""Label and field selectors, with Kubernetes' semantics (apimachinery `labels.Parse`,
`fields.ParseSelector`): terms are ANDed, a malformed selector is a 400 BadRequest."""

from __future__ import annotations

import pytest

from control_plane.api.objects import Obj
from control_plane.apiserver.errors import ApiError
from control_plane.apiserver.selectors import field_selector, field_value, label_selector


def labeled(**labels: str) -> Obj:
    return {"metadata": {"name": "p", "labels": labels}}


WEB = labeled(app="web", tier="front")
API = labeled(app="api")
BARE: Obj = {"metadata": {"name": "q"}}
EMPTY_VALUE = labeled(app="")


def matching(selector: str | None) -> list[str]:
    match = label_selector(selector)
    named = {"web": WEB, "api": API, "bare": BARE, "empty": EMPTY_VALUE}
    return [name for name, obj in named.items() if match(obj)]


@pytest.mark.parametrize(("selector", "expected"), [
    (None, ["web", "api", "bare", "empty"]),
    ("", ["web", "api", "bare", "empty"]),
    ("app=web", ["web"]),
    ("app==web", ["web"]),
    ("app = web", ["web"]),
    # `!=` also matches objects without the label (Kubernetes' NotEquals).
    ("app!=web", ["api", "bare", "empty"]),
    ("app=", ["empty"]),  # an empty value is a value
    ("app in (web,api)", ["web", "api"]),
    ("app in ( web , api )", ["web", "api"]),
    ("app in(web)", ["web"]),
    # `notin` also matches objects without the label (Kubernetes' NotIn).
    ("app notin (web)", ["api", "bare", "empty"]),
    ("app", ["web", "api", "empty"]),  # exists
    ("!app", ["bare"]),  # does not exist
    ("tier", ["web"]),
    ("app=web,tier=front", ["web"]),  # terms are ANDed
    ("app in (web,api),!tier", ["api"]),  # a comma inside parentheses separates values, not terms
    ("app=web,tier=back", []),
    ("app=web,", ["web"]),  # an empty term is ignored
])
def test_label_selectors(selector: str | None, expected: list[str]) -> None:
    assert matching(selector) == expected


def test_a_label_selector_tolerates_objects_without_labels_or_metadata() -> None:
    assert label_selector("!app")({})
    assert not label_selector("app")({"metadata": {"labels": None}})


def test_keys_with_a_prefix() -> None:
    node = labeled(**{"node-role.kubernetes.io/control-plane": "", "kubernetes.io/hostname": "m1"})
    assert label_selector("node-role.kubernetes.io/control-plane")(node)
    assert label_selector("kubernetes.io/hostname in (m1,m2)")(node)
    assert not label_selector("!node-role.kubernetes.io/control-plane")(node)


@pytest.mark.parametrize("selector", [
    "app in (web",  # unbalanced parenthesis
    "app in web",
    "app >< web",
    "!app=web",  # `!` only negates existence
    "=web",
    "app=web,(x)",
    "app notin",
])
def test_malformed_label_selectors_are_400(selector: str) -> None:
    with pytest.raises(ApiError) as info:
        label_selector(selector)
    assert (info.value.code, info.value.reason) == (400, "BadRequest")


def test_negated_set_terms_are_400() -> None:
    # `!` only negates existence (labels.Parse refuses `!app in (web)`); dropping it would
    # silently select the opposite of what was asked.
    with pytest.raises(ApiError) as info:
        label_selector("!app in (web)")
    assert info.value.code == 400


# ---- field selectors ------------------------------------------------------------------
POD: Obj = {"metadata": {"name": "web-1", "namespace": "default"},
            "spec": {"nodeName": "w1"}, "status": {"phase": "Running"}}
PENDING: Obj = {"metadata": {"name": "web-2", "namespace": "default"}, "spec": {},
                "status": {"phase": "Pending"}}
NODE: Obj = {"metadata": {"name": "w1"}, "spec": {"unschedulable": True}}


@pytest.mark.parametrize(("selector", "obj", "expected"), [
    (None, POD, True),
    ("metadata.name=web-1", POD, True),
    ("metadata.name==web-1", POD, True),
    ("metadata.name!=web-1", POD, False),
    ("metadata.namespace=default,status.phase=Running", POD, True),
    ("metadata.namespace=default,status.phase=Pending", POD, False),
    ("spec.nodeName=w1", POD, True),
    # `spec.nodeName=` selects unscheduled pods: an absent field reads as "" (how the
    # scheduler and kubectl find pending pods).
    ("spec.nodeName=", PENDING, True),
    ("spec.nodeName=", POD, False),
    ("spec.nodeName!=", POD, True),
    ("spec.unschedulable=true", NODE, True),  # booleans read as true/false
    ("spec.unschedulable=false", NODE, False),
    (" metadata.name = web-1 ", POD, True),
])
def test_field_selectors(selector: str | None, obj: Obj, expected: bool) -> None:
    assert field_selector(selector)(obj) is expected


def test_field_values_of_events() -> None:
    event: Obj = {"involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "u1"},
                  "reason": "Scheduled", "type": "Normal"}
    assert field_selector("involvedObject.kind=Pod,involvedObject.name=web-1,involvedObject.uid=u1,"
                          "involvedObject.namespace=default,reason=Scheduled,type=Normal")(event)
    assert field_value(event, "involvedObject.missing") == ""
    assert field_value({"spec": "not-an-object"}, "spec.nodeName") == ""


@pytest.mark.parametrize(("selector", "message"), [
    ("spec.containers=web", 'field label not supported: "spec.containers"'),  # only the indexed fields
    ("metadata.labels=x", 'field label not supported: "metadata.labels"'),
    ("metadata.name", "invalid field selector: 'metadata.name'"),
    ("metadata.name in (a)", "invalid field selector: 'metadata.name in (a)'"),
    ("status.phase>Running", "invalid field selector: 'status.phase>Running'"),
])
def test_unsupported_or_malformed_field_selectors_are_400(selector: str, message: str) -> None:
    with pytest.raises(ApiError) as info:
        field_selector(selector)
    assert (info.value.code, info.value.reason, info.value.message) == (400, "BadRequest", message)

