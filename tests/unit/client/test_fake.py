"""`FakeApiClient` keeps the API server's rules that components rely on: resourceVersion
compare-and-set, 404/409 Status errors, watches from a version, 410 after compaction.
Other tests trust it, so it is pinned here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from control_plane.api import paths
from control_plane.api.mergepatch import merge as merge_patch
from control_plane.api.objects import Obj
from control_plane.client.clock import FakeClock
from control_plane.client.errors import StatusError, Unreachable, is_conflict, is_not_found
from control_plane.client.fake import FakeApiClient
from control_plane.client.fakepaths import parse_path

PODS, NODES, LEASES = paths.resource("pods"), paths.resource("nodes"), paths.resource("leases")
POD_PATH = paths.path(PODS, "default")


def pod(name: str, **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c"}]}}


@pytest.fixture
def api() -> Iterator[FakeApiClient]:
    fake = FakeApiClient(FakeClock(1_800_000_000.0))
    yield fake
    fake.close()


def names(listed: Obj) -> list[str]:
    return [o["metadata"]["name"] for o in listed["items"]]


def status_of(err: pytest.ExceptionInfo[StatusError]) -> tuple[int, str]:
    return err.value.code, err.value.reason


def test_paths() -> None:
    assert parse_path("/api/v1/namespaces/default/pods/web/status") == parse_path(
        paths.path(PODS, "default", "web", "status"))
    target = parse_path("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x")
    assert (target.res, target.namespace, target.name, target.sub) == (LEASES, "kube-system", "x", None)
    target = parse_path("/api/v1/namespaces/default")  # the Namespace object itself
    assert (target.res.plural, target.namespace, target.name) == ("namespaces", None, "default")
    for bad in ("/api/v1/widgets", "/healthz", "/api/v1/namespaces/default/nodes/w1"):
        with pytest.raises(StatusError) as err:
            parse_path(bad)
        assert err.value.code == 404


def test_create_fills_in_what_the_server_sets(api: FakeApiClient) -> None:
    created = api.create(POD_PATH, pod("web"))
    meta = created["metadata"]
    assert (meta["namespace"], meta["generation"], meta["resourceVersion"]) == ("default", 1, "1")
    assert meta["uid"] and meta["creationTimestamp"] == "2027-01-15T08:00:00Z"
    assert created["status"] == {"phase": "Pending"}
    assert api.get(paths.path(PODS, "default", "web")) == created
    generated = api.create(POD_PATH, {"metadata": {"generateName": "web-"}, "spec": {}})
    assert generated["metadata"]["name"].startswith("web-") and len(generated["metadata"]["name"]) == 9


def test_create_of_a_taken_name_is_409_already_exists(api: FakeApiClient) -> None:
    api.create(POD_PATH, pod("web"))
    with pytest.raises(StatusError) as err:
        api.create(POD_PATH, pod("web"))
    assert status_of(err) == (409, "AlreadyExists") and is_conflict(err.value)
    assert err.value.status["details"] == {"name": "web", "kind": "pods"}
    api.create(paths.path(PODS, "other"), pod("web"))  # names are per namespace


def test_missing_objects_are_404(api: FakeApiClient) -> None:
    path = paths.path(PODS, "default", "web")
    for call in (lambda: api.get(path), lambda: api.replace(path, pod("web")),
                 lambda: api.patch(path, {}), lambda: api.delete(path)):
        with pytest.raises(StatusError) as err:
            call()
        assert status_of(err) == (404, "NotFound") and is_not_found(err.value)
        assert err.value.message == 'pods "web" not found'


def test_replace_is_a_compare_and_set_on_the_resource_version(api: FakeApiClient) -> None:
    path = paths.path(PODS, "default", "web")
    first = api.create(POD_PATH, pod("web"))
    first["metadata"]["labels"] = {"v": "2"}
    second = api.replace(path, first)
    assert second["metadata"]["resourceVersion"] == "2"
    first["metadata"]["labels"] = {"v": "stale"}  # still carries resourceVersion 1
    with pytest.raises(StatusError) as err:
        api.replace(path, first)
    assert status_of(err) == (409, "Conflict")
    assert api.get(path)["metadata"]["labels"] == {"v": "2"}
    del first["metadata"]["resourceVersion"]  # without one, the write is unconditional
    assert api.replace(path, first)["metadata"]["labels"] == {"v": "stale"}


def test_replace_keeps_identity_and_status_and_counts_spec_changes(api: FakeApiClient) -> None:
    path = paths.path(PODS, "default", "web")
    created = api.create(POD_PATH, pod("web"))
    body = pod("web")
    body["status"] = {"phase": "Running"}  # ignored: status has its own subresource
    body["metadata"]["uid"] = "forged"
    same_spec = api.replace(path, body)
    assert same_spec["metadata"]["uid"] == created["metadata"]["uid"]
    assert same_spec["status"] == {"phase": "Pending"} and same_spec["metadata"]["generation"] == 1
    body["spec"]["nodeName"] = "w1"
    assert api.replace(path, body)["metadata"]["generation"] == 2
    assert api.replace(path + "/status", {"status": {"phase": "Running"}})["status"] == {"phase": "Running"}
    assert api.get(path)["spec"]["nodeName"] == "w1"
    with pytest.raises(StatusError) as err:
        api.replace(path, pod("other"))
    assert err.value.code == 400


def test_merge_patch(api: FakeApiClient) -> None:
    path = paths.path(PODS, "default", "web")
    api.create(POD_PATH, pod("web", app="web", tier="front"))
    patched = api.patch(path, {"metadata": {"labels": {"tier": None, "v": "2"}}})
    assert patched["metadata"]["labels"] == {"app": "web", "v": "2"}
    merged = merge_patch({"a": [1, 2], "b": {"c": 1}}, {"a": [3], "b": {"d": 2}})
    assert merged == {"a": [3], "b": {"c": 1, "d": 2}}
    with pytest.raises(NotImplementedError):
        api.patch(path, [{"op": "remove", "path": "/spec"}], json_patch=True)


def test_list_with_selectors_and_the_current_revision(api: FakeApiClient) -> None:
    api.create(POD_PATH, pod("a", app="web"))
    api.create(POD_PATH, pod("b", app="api"))
    api.create(paths.path(PODS, "other"), pod("c", app="web"))
    listed = api.list(POD_PATH)
    assert names(listed) == ["a", "b"]
    assert (listed["kind"], listed["metadata"]["resourceVersion"]) == ("PodList", "3")
    everywhere = paths.path(PODS)
    assert names(api.list(everywhere, label="app=web")) == ["a", "c"]
    assert names(api.list(everywhere, label="app!=web")) == ["b"]
    assert names(api.list(everywhere, field="metadata.namespace=other")) == ["c"]
    assert api.list(everywhere, label="!app")["items"] == []
    assert names(api.list(everywhere, label="app in (web)")) == ["a", "c"]  # the API's own grammar
    with pytest.raises(StatusError) as err:
        api.list(everywhere, label="app in (web")
    assert err.value.code == 400


def test_watch_from_a_version_then_new_events(api: FakeApiClient) -> None:
    api.create(POD_PATH, pod("a"))
    rv = api.list(POD_PATH)["metadata"]["resourceVersion"]
    api.create(POD_PATH, pod("b"))
    api.create(paths.path(PODS, "other"), pod("elsewhere"))
    api.delete(paths.path(PODS, "default", "a"))
    stream = api.watch(POD_PATH, rv)
    seen = [(next(stream)["type"]) for _ in range(2)]
    assert seen == ["ADDED", "DELETED"]
    assert api.watching() == 1
    api.replace(paths.path(PODS, "default", "b"), pod("b", v="2"))
    event = next(stream)  # delivered as it happens
    assert (event["type"], event["object"]["metadata"]["labels"]) == ("MODIFIED", {"v": "2"})
    api.end_watches()  # the server's timeout: the stream ends normally
    assert list(stream) == []
    assert api.watching() == 0


def test_watch_without_a_version_starts_with_the_current_objects(api: FakeApiClient) -> None:
    api.create(POD_PATH, pod("a"))
    stream = api.watch(POD_PATH, None)
    first = next(stream)
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "a")
    stream.close()
    assert api.watching() == 0


def test_watch_from_a_compacted_version_is_410(api: FakeApiClient) -> None:
    api.create(POD_PATH, pod("a"))
    api.create(POD_PATH, pod("b"))
    api.compact()
    with pytest.raises(StatusError) as err:
        next(api.watch(POD_PATH, "1"))
    assert status_of(err) == (410, "Expired")
    stream = api.watch(POD_PATH, str(api.revision))  # from now on is fine
    api.create(POD_PATH, pod("c"))
    assert next(stream)["object"]["metadata"]["name"] == "c"
    stream.close()


def test_injected_failures_and_hooks(api: FakeApiClient) -> None:
    api.fail_next("get", Unreachable("down"), times=2)
    for _ in range(2):
        with pytest.raises(Unreachable):
            api.get(paths.path(NODES, None, "w1"))
    with pytest.raises(StatusError):  # the third call reaches the "server"
        api.get(paths.path(NODES, None, "w1"))
    order: list[str] = []
    api.before_next("create", lambda: order.append("hook"))
    api.create(POD_PATH, pod("a"))
    order.append("created")
    api.create(POD_PATH, pod("b"))
    assert order == ["hook", "created"]
    assert api.count("get") == 3 and api.count("create", POD_PATH) == 2
    with pytest.raises(ValueError, match="unknown verb"):
        api.fail_next("post", Unreachable("x"))


def test_broken_watches_raise_until_healed(api: FakeApiClient) -> None:
    api.create(POD_PATH, pod("a"))
    stream = api.watch(POD_PATH, "0")
    assert next(stream)["object"]["metadata"]["name"] == "a"
    api.create(POD_PATH, pod("b"))
    api.break_watches(Unreachable("connection reset"))
    with pytest.raises(Unreachable):
        next(stream)  # before delivering the pending event
    with pytest.raises(Unreachable):
        next(api.watch(POD_PATH, "0"))
    api.heal_watches()
    healed = api.watch(POD_PATH, "0")
    assert next(healed)["object"]["metadata"]["name"] == "a"
    healed.close()


def test_after_close_every_call_is_unreachable(api: FakeApiClient) -> None:
    api.create(POD_PATH, pod("a"))
    stream = api.watch(POD_PATH, "0")
    next(stream)
    api.close()
    assert list(stream) == []
    with pytest.raises(Unreachable):
        api.list(POD_PATH)
