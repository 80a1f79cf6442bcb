"""The API server on a real 3-member store: CRUD, conflicts, selectors, watch, errors."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from control_plane.devtools.storecluster import LocalStore
from tests.integration.conftest import ApiServer

Obj = dict[str, Any]


def pod(name: str, labels: dict[str, str] | None = None, node: str | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "main", "command": ["sleep", "60"]}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": spec}


PODS = "/api/v1/namespaces/default/pods"


def test_crud_and_optimistic_concurrency(apiserver: ApiServer) -> None:
    with apiserver.client() as api:
        created = api.post(PODS, json=pod("web-1", {"app": "web"}))
        assert created.status_code == 201, created.text
        obj = created.json()
        meta = obj["metadata"]
        assert obj["kind"] == "Pod" and meta["namespace"] == "default" and meta["uid"]
        assert meta["creationTimestamp"] and int(meta["resourceVersion"]) > 0
        assert obj["status"]["phase"] == "Pending"
        dup = api.post(PODS, json=pod("web-1"))
        assert dup.status_code == 409 and dup.json()["reason"] == "AlreadyExists"

        got = api.get(f"{PODS}/web-1").json()
        assert got["metadata"]["uid"] == meta["uid"]
        got["metadata"]["labels"]["tier"] = "front"
        updated = api.put(f"{PODS}/web-1", json=got)
        assert updated.status_code == 200
        assert int(updated.json()["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
        stale = api.put(f"{PODS}/web-1", json=got)  # still carries the old resourceVersion
        assert stale.status_code == 409 and stale.json()["reason"] == "Conflict"

        merged = api.patch(f"{PODS}/web-1", content=json.dumps({"metadata": {"labels": {"tier": None}}}),
                           headers={"content-type": "application/merge-patch+json"})
        assert merged.status_code == 200 and "tier" not in merged.json()["metadata"]["labels"]
        patched = api.patch(f"{PODS}/web-1", content=json.dumps(
            [{"op": "add", "path": "/metadata/labels/v", "value": "2"}]),
            headers={"content-type": "application/json-patch+json"})
        assert patched.json()["metadata"]["labels"] == {"app": "web", "v": "2"}
        assert patched.json()["metadata"]["uid"] == meta["uid"]

        deleted = api.delete(f"{PODS}/web-1")
        assert deleted.status_code == 200
        assert api.get(f"{PODS}/web-1").status_code == 404


def test_bound_pod_deletion_is_graceful(apiserver: ApiServer) -> None:
    with apiserver.client() as api:
        api.post(PODS, json=pod("bound", node="node-1"))
        marked = api.delete(f"{PODS}/bound")
        assert marked.json()["metadata"]["deletionTimestamp"]
        assert api.get(f"{PODS}/bound").status_code == 200  # the node's agent confirms later
        assert api.delete(f"{PODS}/bound", params={"gracePeriodSeconds": 0}).status_code == 200
        assert api.get(f"{PODS}/bound").status_code == 404


def test_list_with_label_and_field_selectors(apiserver: ApiServer) -> None:
    with apiserver.client() as api:
        api.post("/api/v1/namespaces", json={"metadata": {"name": "team-a"}})
        for i in range(4):
            api.post(PODS, json=pod(f"p{i}", {"app": "web" if i % 2 else "db"}, node=f"n{i % 2}"))
        api.post("/api/v1/namespaces/team-a/pods", json=pod("other", {"app": "web"}))

        def names(url: str, **params: str) -> list[str]:
            body = api.get(url, params=params).json()
            assert body["kind"] == "PodList" and int(body["metadata"]["resourceVersion"]) > 0
            return sorted(i["metadata"]["name"] for i in body["items"])

        assert names(PODS, labelSelector="app=web") == ["p1", "p3"]
        assert names(PODS, labelSelector="app in (web,db),app!=db") == ["p1", "p3"]
        assert names(PODS, fieldSelector="spec.nodeName=n0") == ["p0", "p2"]
        assert names(PODS, fieldSelector="metadata.name!=p0,spec.nodeName=n0") == ["p2"]
        assert names("/api/v1/pods", labelSelector="app=web") == ["other", "p1", "p3"]
        bad = api.get(PODS, params={"fieldSelector": "spec.colour=red"})
        assert bad.status_code == 400 and bad.json()["kind"] == "Status"


def test_watch_from_a_resource_version(apiserver: ApiServer) -> None:
    with apiserver.client() as api:
        rv = api.get(PODS).json()["metadata"]["resourceVersion"]
        events: list[Obj] = []

        def watch() -> None:
            with api.stream("GET", PODS, params={"watch": "true", "resourceVersion": rv,
                                                 "timeoutSeconds": "6"}) as resp:
                for line in resp.iter_lines():
                    if line:
                        events.append(json.loads(line))

        t = threading.Thread(target=watch)
        t.start()
        api.post(PODS, json=pod("w1"))
        p = api.get(f"{PODS}/w1").json()
        p["metadata"]["labels"] = {"x": "y"}
        api.put(f"{PODS}/w1", json=p)
        api.delete(f"{PODS}/w1")
        t.join(20)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
        revs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        assert revs == sorted(revs) and revs[0] > int(rv)


def test_watch_from_a_compacted_version_is_410(apiserver: ApiServer, store3: LocalStore) -> None:
    with apiserver.client() as api:
        old = api.post(PODS, json=pod("c1")).json()["metadata"]["resourceVersion"]
        api.post(PODS, json=pod("c2"))
        with store3.client() as c:
            c.compact(c.get(b"/").revision)
        resp = api.get(PODS, params={"watch": "true", "resourceVersion": old})
        assert resp.status_code == 410 and resp.json()["reason"] == "Expired"


@pytest.mark.parametrize(("body", "status", "says"), [
    (pod("Bad_Name"), 422, "metadata.name"),
    ({"metadata": {"name": "empty"}, "spec": {"containers": []}}, 422, "spec.containers"),
    ({"metadata": {"name": "typed"}, "spec": {"containers": [{"name": "c", "command": "sleep 1"}]}}, 422,
     "spec.containers[0].command"),
    ({"metadata": {"name": "q"}, "spec": {"containers": [{"name": "c", "resources": {
        "limits": {"memory": "lots"}}}]}}, 422, "resources.limits.memory"),
    ({"metadata": {"name": "neg"}, "spec": {"containers": [{"name": "c", "resources": {
        "limits": {"cpu": "-1"}}}]}}, 422, "resources.limits.cpu: Invalid value: quantity must not be"),
    ({"kind": "Node", "metadata": {"name": "k"}, "spec": {"containers": [{"name": "c"}]}}, 422, "kind"),
    ([1, 2], 422, "JSON object"),
])
def test_invalid_objects_are_422_naming_the_field(shared_apiserver: ApiServer, body: Any, status: int,
                                                  says: str) -> None:
    with shared_apiserver.client() as api:
        resp = api.post(PODS, json=body)
    assert resp.status_code == status, resp.text
    status_obj = resp.json()
    assert status_obj["kind"] == "Status" and says in status_obj["message"]
    if status == 422:
        assert status_obj["details"]["causes"]


def test_other_bad_requests(shared_apiserver: ApiServer) -> None:
    with shared_apiserver.client() as api:
        assert api.post(PODS, content=b"{not json", headers={"content-type": "application/json"}
                        ).status_code == 400
        huge = pod("huge")
        huge["metadata"]["annotations"] = {"blob": "x" * (1600 * 1024)}
        assert api.post(PODS, json=huge).status_code == 413
        assert api.get("/api/v1/widgets").status_code == 404
        missing = api.post("/api/v1/namespaces/nowhere/pods", json=pod("p"))
        assert missing.status_code == 404 and "nowhere" in missing.json()["message"]
        assert api.get("/api/v1/pods/x").status_code == 404
        assert api.get("/version").json()["major"] == "1"
        assert api.post(PODS, json=pod("after-bad")).status_code == 201  # still serving


def test_api_keeps_working_when_a_store_member_dies(apiserver: ApiServer, store3: LocalStore) -> None:
    with apiserver.client() as api:
        with store3.client() as c:
            leader = store3.leader(c)
        assert leader is not None
        store3.kill(leader)
        resp = api.post(PODS, json=pod("survivor"))
        assert resp.status_code == 201, resp.text
        assert api.get(f"{PODS}/survivor").status_code == 200


def test_authentication_and_roles(apiserver: ApiServer, store3: LocalStore) -> None:
    from control_plane.apiserver.authn import TokenStore, new_token

    viewer, bootstrap, expired = new_token(), new_token(), new_token()
    with store3.client() as c:
        tokens = TokenStore(c)
        tokens.put(viewer, "viewer")
        tokens.put(bootstrap, "bootstrap", ttl=600)
        tokens.put(expired, "viewer", ttl=-60)  # expired a minute ago
    with apiserver.client(expired) as late:
        gone = late.get(PODS)
        assert gone.status_code == 401 and "expired" in gone.json()["message"]
    with apiserver.client("") as anonymous:
        missing = anonymous.get(PODS)
        assert missing.status_code == 401 and missing.json()["reason"] == "Unauthorized"
        assert anonymous.get("/version").status_code == 200  # public, as in Kubernetes
    with apiserver.client("abcdef.0123456789abcdef") as wrong:
        assert wrong.get(PODS).status_code == 401
    with apiserver.client(viewer) as view:
        assert view.get(PODS).status_code == 200
        denied = view.post(PODS, json=pod("v"))
        assert denied.status_code == 403 and denied.json()["reason"] == "Forbidden"
    with apiserver.client(bootstrap) as boot:
        assert boot.get(PODS).status_code == 403
        cred = boot.post("/apis/skiff.io/v1/nodecredentials", json={"nodeName": "node-a"})
        assert cred.status_code == 201
        node_token = cred.json()["token"]
        assert boot.post("/apis/skiff.io/v1/nodecredentials", json={"nodeName": "Bad_Name"}
                         ).status_code == 422
    with apiserver.client() as admin, apiserver.client(node_token) as node:
        assert node.post("/api/v1/nodes", json={"metadata": {"name": "node-a"}}).status_code == 201
        assert admin.post("/api/v1/nodes", json={"metadata": {"name": "node-b"}}).status_code == 201
        # NodeRestriction: its own Node and Lease yes, another node's no.
        own = node.get("/api/v1/nodes/node-a").json()
        own["metadata"]["labels"] = {"ready": "yes"}
        assert node.put("/api/v1/nodes/node-a", json=own).status_code == 200
        other = node.get("/api/v1/nodes/node-b").json()
        other["metadata"]["labels"] = {"hijacked": "yes"}
        assert node.put("/api/v1/nodes/node-b", json=other).status_code == 403
        assert node.delete("/api/v1/nodes/node-b").status_code == 403
        lease = {"metadata": {"name": "node-a"}, "spec": {"holderIdentity": "node-a"}}
        assert node.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                         json=lease).status_code == 201
        lease_b = {"metadata": {"name": "node-b"}, "spec": {"holderIdentity": "node-a"}}
        assert node.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                         json=lease_b).status_code == 403
        # Pods: only those bound to it.
        admin.post(PODS, json=pod("on-a", node="node-a"))
        admin.post(PODS, json=pod("on-b", node="node-b"))
        status = {"status": {"phase": "Running"}}
        merge = {"content-type": "application/merge-patch+json"}
        assert node.patch(f"{PODS}/on-a", content=json.dumps(status), headers=merge).status_code == 200
        assert node.patch(f"{PODS}/on-b", content=json.dumps(status), headers=merge).status_code == 403
        # A JSON patch could move fields the NodeRestriction check reads: nodes may only merge.
        json_patch = [{"op": "replace", "path": "/status/phase", "value": "Failed"}]
        refused = node.patch(f"{PODS}/on-a", content=json.dumps(json_patch),
                             headers={"content-type": "application/json-patch+json"})
        assert refused.status_code == 403 and "merge patches" in refused.json()["message"]
        assert node.post(PODS, json=pod("sneaky", node="node-b")).status_code == 403


def test_subresources_binding_status_scale_eviction(apiserver: ApiServer) -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "c", "command": ["true"]}]}}}}
    deps = "/apis/apps/v1/namespaces/default/deployments"
    with apiserver.client() as api:
        api.post(PODS, json=pod("unbound"))
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "unbound"},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
        assert api.post(f"{PODS}/unbound/binding", json=binding).status_code == 201
        assert api.get(f"{PODS}/unbound").json()["spec"]["nodeName"] == "node-1"
        again = api.post(f"{PODS}/unbound/binding", json={**binding, "target": {"name": "node-2"}})
        assert again.status_code == 409  # never bound twice

        current = api.get(f"{PODS}/unbound").json()
        status = api.put(f"{PODS}/unbound/status", json={**current, "status": {"phase": "Running"},
                                                          "spec": {"containers": []}})
        assert status.status_code == 200
        after = api.get(f"{PODS}/unbound").json()
        assert after["status"]["phase"] == "Running" and after["spec"]["containers"]  # spec untouched
        stale = api.put(f"{PODS}/unbound/status", json={**current, "status": {"phase": "Failed"}})
        assert stale.status_code == 409

        assert api.post(deps, json=deployment).status_code == 201
        scale = api.get(f"{deps}/web/scale").json()
        assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 2
        assert api.put(f"{deps}/web/scale", json={"spec": {"replicas": 5}}).json()["spec"]["replicas"] == 5
        assert api.get(f"{deps}/web").json()["spec"]["replicas"] == 5
        assert api.put(f"{deps}/web/scale", json={"spec": {"replicas": -1}}).status_code == 422

        evicted = api.post(f"{PODS}/unbound/eviction", json={"apiVersion": "policy/v1", "kind": "Eviction"})
        assert evicted.status_code == 201
        assert api.get(f"{PODS}/unbound").json()["metadata"]["deletionTimestamp"]
        assert api.post(f"{PODS}/unbound/exec", json={}).status_code == 404


def test_many_open_watches_do_not_stall_other_requests(apiserver: ApiServer) -> None:
    # Each open watch waits in a thread; they have a pool of their own, so a hundred of
    # them (more than the request pool's 40 threads) leave every other request served.
    opened, release = threading.Semaphore(0), threading.Event()
    errors: list[BaseException] = []

    def watch() -> None:
        try:
            with apiserver.client() as c, c.stream("GET", PODS, params={"watch": "true"}) as resp:
                assert resp.status_code == 200
                opened.release()
                release.wait(60)
        except BaseException as err:  # reported by the main thread
            errors.append(err)
            opened.release()

    threads = [threading.Thread(target=watch, daemon=True) for _ in range(100)]
    for t in threads:
        t.start()
    try:
        for _ in threads:
            assert opened.acquire(timeout=60), "a watch did not open"
        assert not errors, errors[:3]
        with apiserver.client() as api:
            for i in range(20):  # authentication, reads and writes all go through
                assert api.post(PODS, json=pod(f"busy-{i}"), timeout=10).status_code == 201
            assert len(api.get(PODS, timeout=10).json()["items"]) == 20
    finally:
        release.set()
        for t in threads:
            t.join(timeout=30)
