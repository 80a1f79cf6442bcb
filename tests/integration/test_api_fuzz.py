"""Hypothesis-driven fuzzing of the API server's endpoints, as an admin, a viewer and a
node: whatever the method, path, query and body, the answer is never a 500 and never
hangs past the request deadline, errors are Kubernetes Status objects, and the server
keeps answering its health check.  A bounded number of examples runs here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import ApiServer

PLURALS = ["pods", "nodes", "deployments", "services", "events", "leases", "namespaces", "widgets"]
SUBS = ["status", "scale", "binding", "eviction", "log", "exec", "nope"]
NAMES = ["web", "x", "Bad_Name", "a" * 300, "%2e%2e", "-"]
NAMESPACES = ["default", "kube-system", "nowhere", "UPPER"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=25)
pod_like = st.fixed_dictionaries({
    "metadata": st.fixed_dictionaries({"name": st.sampled_from(NAMES)},
                                      optional={"labels": json_values, "namespace": json_values}),
}, optional={"spec": json_values | st.fixed_dictionaries({"containers": json_values}, optional={
    "tolerations": json_values, "nodeSelector": json_values, "affinity": json_values,
    "terminationGracePeriodSeconds": json_values, "replicas": json_values, "template": json_values}),
    "status": json_values, "kind": json_values, "apiVersion": json_values})
bodies = st.one_of(json_values, pod_like, st.lists(st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "x"]),
     "path": st.sampled_from(["", "/", "/spec", "/metadata/labels/a", "/spec/x/0", "/a/²"])},
    optional={"value": json_values, "from": st.sampled_from(["/spec", "", "/nope"])}), max_size=5))
queries = st.dictionaries(
    st.sampled_from(["labelSelector", "fieldSelector", "resourceVersion", "gracePeriodSeconds",
                     "watch", "timeoutSeconds", "tailLines", "container"]),
    st.sampled_from(["", "a=b", "a in (", "!", "metadata.name=x", "1", "-1", "abc", "true", " " * 50]),
    max_size=3)
CONTENT_TYPES = ["application/json", "application/merge-patch+json", "application/json-patch+json",
                 "application/strategic-merge-patch+json", "text/plain"]


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], Any, str]:
    plural = draw(st.sampled_from(PLURALS))
    group = "/apis/apps/v1" if plural == "deployments" else (
        "/apis/coordination.k8s.io/v1" if plural == "leases" else "/api/v1")
    scope = draw(st.sampled_from(["", f"/namespaces/{draw(st.sampled_from(NAMESPACES))}"]))
    tail = draw(st.sampled_from(["", f"/{draw(st.sampled_from(NAMES))}",
                                 f"/{draw(st.sampled_from(NAMES))}/{draw(st.sampled_from(SUBS))}"]))
    path = draw(st.sampled_from([f"{group}{scope}/{plural}{tail}", "/apis/skiff.io/v1/bootstraptokens",
                                 "/apis/skiff.io/v1/nodecredentials", "/apis/skiff.io/v1/clusterstatus",
                                 "/version", "/metrics", "/nowhere/at/all"]))
    method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]))
    query = draw(queries)
    if query.get("watch") in ("true", "1"):
        query["timeoutSeconds"] = "1"  # a watch answers, then ends
    return method, path, query, draw(bodies), draw(st.sampled_from(CONTENT_TYPES))


@pytest.fixture(scope="module")
def identities(shared_apiserver: ApiServer) -> Iterator[dict[str, httpx.Client]]:
    with shared_apiserver.client() as admin:
        cred = admin.post("/apis/skiff.io/v1/nodecredentials", json={"nodeName": "fuzz-node"})
        assert cred.status_code == 201, cred.text
        node_token = cred.json()["token"]
    clients = {"admin": shared_apiserver.client(), "node": shared_apiserver.client(node_token),
               "anonymous": shared_apiserver.client("")}
    try:
        yield clients
    finally:
        for c in clients.values():
            c.close()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(who=st.sampled_from(["admin", "node", "anonymous"]), request=requests())
def test_no_request_breaks_the_api_server(identities: dict[str, httpx.Client], who: str,
                                          request: tuple[str, str, dict[str, str], Any, str]) -> None:
    method, path, query, body, ctype = request
    client = identities[who]
    content = None if method in ("GET", "DELETE") else json.dumps(body).encode()
    resp = client.request(method, path, params=query, content=content, headers={"content-type": ctype},
                          timeout=15)
    assert resp.status_code != 500 and resp.status_code < 600, (method, path, query, body, resp.text[:500])
    if resp.status_code >= 400 and resp.headers.get("content-type", "").startswith("application/json"):
        status = resp.json()
        assert status.get("kind") == "Status" and status.get("code") == resp.status_code, resp.text[:300]
    assert identities["anonymous"].get("/healthz", timeout=5).status_code == 200
