"""The three-way merge of `skiff apply` (pure)."""

from __future__ import annotations

import json
from typing import Any

from control_plane.cli.threeway import LAST_APPLIED, annotated, apply, last_applied


def test_sets_removes_and_keeps() -> None:
    current: dict[str, Any] = {
        "metadata": {"name": "w", "uid": "u", "labels": {"a": "1", "b": "2", "mine": "x"}},
        "spec": {"replicas": 2, "nodeName": "n1", "paused": True}, "status": {"phase": "Running"}}
    last = {"metadata": {"name": "w", "labels": {"a": "1", "b": "2"}},
            "spec": {"replicas": 2, "paused": True}}
    desired = {"metadata": {"name": "w", "labels": {"a": "9"}}, "spec": {"replicas": 3}}
    merged = apply(current, last, desired)
    assert merged == {"metadata": {"name": "w", "uid": "u", "labels": {"a": "9", "mine": "x"}},
                      "spec": {"replicas": 3, "nodeName": "n1"}, "status": {"phase": "Running"}}
    assert current["spec"]["replicas"] == 2  # the input is not modified


def test_lists_are_replaced_whole_and_no_change_is_equal() -> None:
    current = {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}}
    desired = {"spec": {"containers": [{"name": "a", "image": "y"}]}}
    assert apply(current, desired, desired)["spec"]["containers"] == [{"name": "a", "image": "y"}]
    assert apply(desired, desired, desired) == desired


def test_annotation_records_the_manifest_without_itself() -> None:
    manifest: dict[str, Any] = {"kind": "Pod", "metadata": {"name": "p", "annotations": {"team": "a"}}}
    out = annotated(manifest)
    assert out["metadata"]["annotations"]["team"] == "a"
    assert json.loads(out["metadata"]["annotations"][LAST_APPLIED]) == manifest
    assert last_applied(out) == manifest
    record = out["metadata"]["annotations"][LAST_APPLIED]
    assert annotated(out)["metadata"]["annotations"][LAST_APPLIED] == record  # re-annotating is stable
    assert last_applied({"metadata": {"annotations": {LAST_APPLIED: "not json"}}}) == {}
    assert LAST_APPLIED not in manifest["metadata"]["annotations"]  # the input is not modified
