"""Static pods: a manifest becomes a pod whose identity is a hash of node and content, and
a mirror pod `<name>-<node>` in the API (Kubernetes' kubelet mirror pods); a changed
manifest replaces the mirror, a deleted mirror is created again."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import yaml

from control_plane.api import paths
from control_plane.api.objects import MIRROR_ANNOTATION, Obj, is_mirror
from control_plane.client.apiclient import ApiClient
from control_plane.client.errors import StatusError
from control_plane.client.fake import FakeApiClient
from node_agent import staticpods
from node_agent.desired import DesiredPod
from node_agent.staticpods import ensure_mirror, from_manifest, mirror_name, mirror_object

PODS = paths.resource("pods")
MIRROR_PATH = paths.path(PODS, "kube-system", "apiserver-m1")


def manifest(command: str = "serve") -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "apiserver", "labels": {"component": "apiserver"},
                         "annotations": {"note": "x"}},
            "spec": {"containers": [{"name": "api", "image": "skiff", "command": [command]}]}}


class RecordingApi(FakeApiClient):
    """The fake API, also keeping each delete's grace period."""

    def __init__(self) -> None:
        super().__init__()
        self.graces: list[int | None] = []

    def delete(self, path: str, grace: int | None = None) -> Obj:
        self.graces.append(grace)
        return super().delete(path, grace)


@pytest.fixture
def api() -> Iterator[RecordingApi]:
    fake = RecordingApi()
    yield fake
    fake.close()


def ensure(api: FakeApiClient, desired: DesiredPod) -> bool:
    return ensure_mirror(cast(ApiClient, api), desired, "m1")


# ---- manifest -> pod ------------------------------------------------------------------
def test_a_manifest_becomes_a_pod_bound_to_this_node() -> None:
    doc = manifest()
    desired = from_manifest(doc, "m1")
    assert desired.static and desired.name == "apiserver" and desired.namespace == "kube-system"
    meta = desired.obj["metadata"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", meta["uid"])
    assert desired.uid == meta["uid"]
    assert re.fullmatch(r"[0-9a-f]{32}", meta["annotations"][MIRROR_ANNOTATION])
    assert meta["uid"].replace("-", "") == meta["annotations"][MIRROR_ANNOTATION]  # one hash, two spellings
    assert meta["annotations"]["note"] == "x"
    assert desired.obj["spec"]["nodeName"] == "m1"
    assert doc == manifest()  # the manifest itself is not changed


def test_the_identity_is_a_hash_of_node_and_content() -> None:
    uid = from_manifest(manifest(), "m1").uid
    assert from_manifest(manifest(), "m1").uid == uid  # stable across reads and restarts
    reordered = json.loads(json.dumps(manifest(), sort_keys=True))
    assert from_manifest(reordered, "m1").uid == uid  # key order does not matter
    assert from_manifest(manifest(), "m2").uid != uid  # per node
    assert from_manifest(manifest("other"), "m1").uid != uid  # an edit is a new pod


def test_a_namespace_in_the_manifest_is_kept() -> None:
    doc = manifest()
    doc["metadata"]["namespace"] = "monitoring"
    assert from_manifest(doc, "m1").namespace == "monitoring"


@pytest.mark.parametrize("doc", [None, [], "pod", {"kind": "Deployment", "metadata": {"name": "x"}},
                                 {"kind": "Pod", "metadata": {}}, {"kind": "Pod"}])
def test_a_manifest_must_be_one_named_pod(doc: object) -> None:
    with pytest.raises(ValueError, match=r"one Pod with metadata\.name"):
        from_manifest(doc, "m1")


def test_load_reads_yaml_and_json_and_skips_bad_manifests(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    (tmp_path / "b-api.yaml").write_text(yaml.safe_dump(manifest()))
    scheduler = manifest()
    scheduler["metadata"]["name"] = "scheduler"
    (tmp_path / "a-scheduler.json").write_text(json.dumps(scheduler))
    store = manifest()
    store["metadata"]["name"] = "store"
    (tmp_path / "c-store.yml").write_text(yaml.safe_dump(store))
    (tmp_path / "broken.yaml").write_text("kind: Pod\nmetadata: [unclosed\n")
    (tmp_path / "deployment.yaml").write_text(yaml.safe_dump({"kind": "Deployment",
                                                               "metadata": {"name": "d"}}))
    (tmp_path / "README.md").write_text("not a manifest")
    (tmp_path / "dir.yaml").mkdir()
    with caplog.at_level(logging.ERROR, logger="node_agent.staticpods"):
        pods = staticpods.load(tmp_path, "m1")
    assert [p.name for p in pods] == ["scheduler", "apiserver", "store"]  # file-name order
    skipped = sorted(r.getMessage().split()[3] for r in caplog.records)
    assert skipped == [str(tmp_path / "broken.yaml"), str(tmp_path / "deployment.yaml")]


def test_load_of_a_missing_directory_is_empty(tmp_path: Path) -> None:
    assert staticpods.load(tmp_path / "absent", "m1") == []


# ---- the mirror pod -------------------------------------------------------------------
def test_the_mirror_object() -> None:
    desired = from_manifest(manifest(), "m1")
    mirror = mirror_object(desired, "m1")
    assert mirror_name(desired.obj, "m1") == "apiserver-m1"
    meta = mirror["metadata"]
    assert (meta["name"], meta["namespace"], meta["labels"]) == ("apiserver-m1", "kube-system",
                                                                 {"component": "apiserver"})
    assert meta["annotations"] == {"note": "x", MIRROR_ANNOTATION: desired.obj["metadata"]["annotations"][
        MIRROR_ANNOTATION], "kubernetes.io/config.source": "file"}
    assert "uid" not in meta  # the API gives the mirror its own uid
    assert mirror["spec"] == desired.obj["spec"] and mirror["spec"] is not desired.obj["spec"]
    assert is_mirror(mirror)


def test_ensure_mirror_creates_it_once(api: RecordingApi) -> None:
    desired = from_manifest(manifest(), "m1")
    assert ensure(api, desired)  # created: its status must be reported
    created = api.get(MIRROR_PATH)
    assert created["spec"]["nodeName"] == "m1" and is_mirror(created)
    writes = api.revision
    assert not ensure(api, desired)  # up to date: nothing written
    assert api.revision == writes


def test_a_changed_manifest_replaces_the_mirror(api: RecordingApi) -> None:
    old = from_manifest(manifest("serve"), "m1")
    ensure(api, old)
    first_uid = api.get(MIRROR_PATH)["metadata"]["uid"]
    new = from_manifest(manifest("serve --v=2"), "m1")
    assert ensure(api, new)
    mirror = api.get(MIRROR_PATH)
    assert mirror["metadata"]["annotations"][MIRROR_ANNOTATION] == new.obj["metadata"]["annotations"][
        MIRROR_ANNOTATION]
    assert mirror["spec"]["containers"][0]["command"] == ["serve --v=2"]
    assert mirror["metadata"]["uid"] != first_uid
    assert api.graces == [0]  # the old mirror went at once, not gracefully


def test_a_deleted_mirror_is_created_again(api: RecordingApi) -> None:
    desired = from_manifest(manifest(), "m1")
    ensure(api, desired)
    api.delete(MIRROR_PATH)  # someone deletes the mirror in the API; the static pod runs on
    assert ensure(api, desired)
    assert is_mirror(api.get(MIRROR_PATH))


def test_a_mirror_created_concurrently_is_not_an_error(api: RecordingApi) -> None:
    desired = from_manifest(manifest(), "m1")
    # Between our "not found" and our create, another writer creates the mirror.
    other = mirror_object(desired, "m1")
    api.before_next("create", lambda: api.create(paths.path(PODS, "kube-system"), other))
    assert not ensure(api, desired)
    assert is_mirror(api.get(MIRROR_PATH))


def test_other_errors_reach_the_caller(api: RecordingApi) -> None:
    desired = from_manifest(manifest(), "m1")
    api.fail_next("get", StatusError(403, "Forbidden", "pods is forbidden"))
    with pytest.raises(StatusError) as err:
        ensure(api, desired)
    assert err.value.code == 403
    api.fail_next("create", StatusError(422, "Invalid", "bad"))
    with pytest.raises(StatusError):
        ensure(api, desired)
