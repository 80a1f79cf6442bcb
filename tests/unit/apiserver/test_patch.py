"""PATCH bodies: JSON merge patch (RFC 7386) and JSON patch (RFC 6902), applied to a
copy of the current object; every refusal is an `ApiError` (400, 415 or 422) naming the
operation (`patch[i]`), never a crash (which the API server would answer 500)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from control_plane.api.objects import Obj
from control_plane.apiserver.errors import ApiError
from control_plane.apiserver.patch import JSON_PATCH, apply, merge

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


def current() -> Obj:
    return {"metadata": {"name": "web", "labels": {"app": "web", "tier": "front"},
                         "annotations": {"a/b": "1", "m~n": "2"}},
            "spec": {"replicas": 2, "ports": [80, 443], "template": {"spec": {"nodeName": "w1"}}}}


def json_patch(*ops: Obj, doc: Obj | None = None) -> Obj:
    return apply(doc if doc is not None else current(), list(ops), JSON_PATCH)


def refused(body: Any, content_type: str = JSON_PATCH, doc: Obj | None = None) -> ApiError:
    with pytest.raises(ApiError) as info:
        apply(doc if doc is not None else current(), body, content_type)
    return info.value


def missing(body: Any, path: str, doc: Obj | None = None) -> None:
    """The patch fails with 422 because op 0's target (or its parent) `path` is not there."""
    err = refused(body, doc=doc)
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message.startswith("patch[0]: ") and path in err.message, err.message


# ---- merge patch (RFC 7386) ---------------------------------------------------------
def test_merge_patch_merges_objects_recursively() -> None:
    out = apply(current(), {"metadata": {"labels": {"version": "2"}}, "spec": {"replicas": 3}}, MERGE)
    assert out["metadata"]["labels"] == {"app": "web", "tier": "front", "version": "2"}
    assert out["spec"]["replicas"] == 3
    assert out["spec"]["template"] == current()["spec"]["template"]


def test_merge_patch_null_deletes_a_member() -> None:
    out = apply(current(), {"metadata": {"labels": {"tier": None}, "annotations": None}}, MERGE)
    assert out["metadata"]["labels"] == {"app": "web"}
    assert "annotations" not in out["metadata"]
    assert apply(current(), {"missing": None}, MERGE) == current()  # deleting nothing is fine


def test_merge_patch_replaces_lists_whole() -> None:
    # RFC 7386 has no list merging: a list in the patch replaces the target's list.
    assert apply(current(), {"spec": {"ports": [8080]}}, MERGE)["spec"]["ports"] == [8080]
    # ...and a list keeps its nulls (they only delete members of objects).
    assert apply(current(), {"spec": {"ports": [None, 1]}}, MERGE)["spec"]["ports"] == [None, 1]


def test_merge_patch_an_object_over_a_scalar_replaces_it() -> None:
    out = apply(current(), {"spec": {"replicas": {"min": 1, "gone": None}}}, MERGE)
    assert out["spec"]["replicas"] == {"min": 1}  # the nulls inside a new object are dropped too


def test_merge_patch_examples_from_rfc_7386_appendix_a() -> None:
    cases: list[tuple[Any, Any, Any]] = [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ]
    for target, patch, result in cases:
        assert merge(target, patch) == result, (target, patch)


def test_strategic_merge_is_treated_as_a_merge_patch_and_parameters_are_ignored() -> None:
    body = {"spec": {"replicas": 5}}
    assert apply(current(), body, STRATEGIC) == apply(current(), body, MERGE)
    assert apply(current(), body, "Application/Merge-Patch+JSON; charset=utf-8")["spec"]["replicas"] == 5


@pytest.mark.parametrize("body", [[{"op": "add"}], "x", None, 3])
def test_a_merge_patch_must_be_an_object(body: Any) -> None:
    err = refused(body, MERGE)
    assert (err.code, err.message) == (400, "a merge patch must be a JSON object")


def test_an_unknown_patch_type_is_415() -> None:
    err = refused({"spec": {}}, "application/apply-patch+yaml")
    assert (err.code, err.reason) == (415, "UnsupportedMediaType")
    assert "application/merge-patch+json" in err.message


def test_patching_never_changes_the_current_object() -> None:
    doc = current()
    apply(doc, {"metadata": {"labels": {"app": None}}, "spec": {"template": {"spec": {"x": 1}}}}, MERGE)
    json_patch({"op": "remove", "path": "/spec/ports/0"}, {"op": "add", "path": "/spec/template/spec/y",
                                                           "value": 1}, doc=doc)
    assert doc == current()


# ---- JSON patch (RFC 6902) -----------------------------------------------------------
def test_add_sets_a_member_replaces_an_existing_one_and_inserts_into_lists() -> None:
    out = json_patch({"op": "add", "path": "/metadata/labels/version", "value": "2"},
                     {"op": "add", "path": "/spec/replicas", "value": 7},
                     {"op": "add", "path": "/spec/ports/1", "value": 8080},
                     {"op": "add", "path": "/spec/ports/-", "value": 9090},  # "-" appends
                     {"op": "add", "path": "/spec/ports/0", "value": 1})
    assert out["metadata"]["labels"]["version"] == "2"
    assert out["spec"]["replicas"] == 7
    assert out["spec"]["ports"] == [1, 80, 8080, 443, 9090]


def test_add_at_the_end_index_appends_but_not_beyond() -> None:
    assert json_patch({"op": "add", "path": "/spec/ports/2", "value": 1})["spec"]["ports"] == [80, 443, 1]
    missing([{"op": "add", "path": "/spec/ports/3", "value": 1}], "/spec/ports/3")


def test_add_needs_the_parent_to_exist() -> None:
    # RFC 6902 §4.1: the target's parent must exist (no implicit creation, unlike merge).
    missing([{"op": "add", "path": "/spec/strategy/type", "value": "Recreate"}], "/spec/strategy")


def test_remove() -> None:
    out = json_patch({"op": "remove", "path": "/metadata/labels/tier"},
                     {"op": "remove", "path": "/spec/ports/0"})
    assert out["metadata"]["labels"] == {"app": "web"}
    assert out["spec"]["ports"] == [443]
    for path in ("/metadata/labels/missing", "/spec/ports/2", "/spec/ports/-"):
        missing([{"op": "remove", "path": path}], path)


def test_replace_needs_the_target_to_exist() -> None:
    out = json_patch({"op": "replace", "path": "/spec/replicas", "value": 0},
                     {"op": "replace", "path": "/spec/ports/1", "value": 8443})
    assert (out["spec"]["replicas"], out["spec"]["ports"]) == (0, [80, 8443])
    missing([{"op": "replace", "path": "/spec/paused", "value": True}], "/spec/paused")


def test_move_and_copy() -> None:
    out = json_patch({"op": "move", "from": "/metadata/labels/tier", "path": "/metadata/labels/role"},
                     {"op": "copy", "from": "/spec/ports", "path": "/spec/extraPorts"},
                     {"op": "move", "from": "/spec/ports/0", "path": "/spec/ports/-"})
    assert out["metadata"]["labels"] == {"app": "web", "role": "front"}
    assert out["spec"]["ports"] == [443, 80]
    assert out["spec"]["extraPorts"] == [80, 443]  # a copy, not an alias of the moved list


def test_copy_is_deep() -> None:
    out = json_patch({"op": "copy", "from": "/spec/template", "path": "/spec/old"},
                     {"op": "replace", "path": "/spec/template/spec/nodeName", "value": "w2"})
    assert out["spec"]["old"]["spec"]["nodeName"] == "w1"


def test_move_or_copy_from_a_missing_location() -> None:
    for kind in ("move", "copy"):
        missing([{"op": kind, "from": "/spec/missing", "path": "/spec/x"}], "/spec/missing")


def test_move_into_its_own_child_is_refused() -> None:
    # RFC 6902 §4.4: "from" must not be a proper prefix of "path".
    err = refused([{"op": "move", "from": "/spec", "path": "/spec/inner"}])
    assert err.code == 422 and err.message.startswith("patch[0]")


def test_test_passes_or_fails_the_whole_patch() -> None:
    out = json_patch({"op": "test", "path": "/spec/replicas", "value": 2},
                     {"op": "test", "path": "/spec/ports", "value": [80, 443]},
                     {"op": "replace", "path": "/spec/replicas", "value": 3})
    assert out["spec"]["replicas"] == 3
    err = refused([{"op": "replace", "path": "/spec/replicas", "value": 3},
                   {"op": "test", "path": "/spec/replicas", "value": 2}])
    assert (err.code, err.reason, err.message) == (422, "Invalid", "patch[1]: test failed at /spec/replicas")


def test_test_compares_numbers_by_value() -> None:
    # RFC 6902 §4.6: numbers are equal when their values are numerically equal.
    json_patch({"op": "test", "path": "/spec/replicas", "value": 2.0})


# RFC 6902 §4.6: values of different JSON types are never equal (Python's true == 1 is not).
def test_test_does_not_confuse_booleans_with_numbers() -> None:
    err = refused([{"op": "test", "path": "/spec/replicas", "value": True}],
                  doc={"spec": {"replicas": 1}})
    assert err.code == 422


def test_pointer_escapes() -> None:
    # RFC 6901: "~1" is "/" and "~0" is "~", decoded in that order (so "~01" is "~1").
    out = json_patch({"op": "replace", "path": "/metadata/annotations/a~1b", "value": "x"},
                     {"op": "remove", "path": "/metadata/annotations/m~0n"},
                     {"op": "add", "path": "/metadata/annotations/~01", "value": "y"})
    assert out["metadata"]["annotations"] == {"a/b": "x", "~1": "y"}


def test_add_at_the_root_must_leave_an_object() -> None:
    assert json_patch({"op": "add", "path": "", "value": {"metadata": {"name": "new"}}}) == \
        {"metadata": {"name": "new"}}
    err = refused([{"op": "add", "path": "", "value": [1]}])
    assert (err.code, err.message) == (400, "the JSON patch must leave an object")


def test_replace_at_the_root_replaces_the_document() -> None:
    # RFC 6901: "" is the whole document; RFC 6902 replace may target it.
    assert json_patch({"op": "replace", "path": "", "value": {"metadata": {"name": "web"}}}) == \
        {"metadata": {"name": "web"}}


def test_remove_at_the_root_is_an_api_error() -> None:
    err = refused([{"op": "remove", "path": ""}])
    assert err.code in (400, 422) and err.message.startswith("patch[0]")


def test_a_walk_through_a_scalar_is_422() -> None:
    missing([{"op": "add", "path": "/metadata/name/x", "value": 1}], "/metadata/name/x")
    missing([{"op": "test", "path": "/metadata/name/x", "value": 1}], "/metadata/name/x")


def test_a_json_patch_must_be_an_array() -> None:
    err = refused({"op": "add"})
    assert (err.code, err.message) == (400, "a JSON patch must be an array of operations")


@pytest.mark.parametrize(("body", "start"), [
    ([{"op": "merge", "path": "/a"}], "patch[0].op: must be one of add, remove, replace, move, copy, test"),
    ([{"path": "/a", "value": 1}], "patch[0].op: "),
    (["add"], "patch[0].op: "),
    ([{"op": "add", "path": "spec", "value": 1}], "patch[0].path: must be a JSON pointer"),
    ([{"op": "add", "value": 1}], "patch[0].path: "),
    ([{"op": "move", "path": "/x"}], "patch[0]."),  # a move without "from"
    ([{"op": "test", "path": "/spec", "value": None}, {"op": "add", "path": "/x"}],
     "patch[1].value: required for add"),
    ([{"op": "replace", "path": "/spec/replicas"}], "patch[0].value: required for replace"),
])
def test_malformed_operations_are_refused_naming_the_operation(body: Any, start: str) -> None:
    # 400 or 422: Kubernetes answers a patch it cannot apply with either, never 500.
    err = refused(body, doc={"spec": None})
    assert err.code in (400, 422) and err.message.startswith(start), (err.code, err.message)


def test_an_empty_json_patch_changes_nothing() -> None:
    assert json_patch() == current()


def test_add_with_a_null_value_sets_null() -> None:
    # In a JSON patch null is a value (unlike a merge patch, where it deletes).
    assert json_patch({"op": "add", "path": "/spec/replicas", "value": None})["spec"] == \
        {**copy.deepcopy(current()["spec"]), "replicas": None}
