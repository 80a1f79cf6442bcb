"""The API server's HTTP surface (FastAPI): Kubernetes paths, Status errors, watch streams.

Routing resolves `(group, version, plural)` to a `Resource`; the verbs live in
`handlers.py` and run in worker threads (the store client is synchronous).  Every error
is a Kubernetes Status; an unexpected exception is logged and answered 500 without a
traceback.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import AsyncIterator, Generator
from contextlib import closing
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.concurrency import run_in_threadpool

from control_plane.api.objects import Obj
from control_plane.api.resources import BY_PATH, Resource
from control_plane.apiserver import logproxy, subresources
from control_plane.apiserver.auth import Identity, TokenStore, authorize, new_token
from control_plane.apiserver.clusterstatus import LEASE_NAMESPACE, LEASES, cluster_status
from control_plane.apiserver.errors import ApiError, bad_request, from_store, invalid, not_found
from control_plane.apiserver.handlers import Handlers
from control_plane.apiserver.validation import MAX_OBJECT_BYTES, check_name
from raftstore.errors import StoreError

log = logging.getLogger(__name__)
WATCH_CHUNK = 5.0  # seconds between bookmark opportunities on a quiet watch
MAX_WATCH = 1800.0
VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-skiff.0.1.0", "platform": "linux/python",
           "goVersion": "n/a", "compiler": "cpython"}


def resolve(group: str, version: str, plural: str, ns: str | None, named: bool) -> Resource:
    res = BY_PATH.get((group, version, plural))
    if res is None:
        raise ApiError(404, "NotFound", f"the server could not find the requested resource "
                                        f"({'/'.join(filter(None, (group, version, plural)))})")
    if ns is not None and not res.namespaced:
        raise ApiError(404, "NotFound", f"{plural} are not namespaced")
    if ns is None and res.namespaced and named:
        raise ApiError(404, "NotFound",
                       f"{plural} are namespaced: use .../namespaces/NAMESPACE/{plural}/NAME")
    return res


async def read_body(request: Request) -> Any:
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_OBJECT_BYTES:
            raise ApiError(413, "RequestEntityTooLarge",
                           f"the request is larger than {MAX_OBJECT_BYTES} bytes (1.5 MiB)")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks) or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise bad_request(f"the request body is not valid JSON: {err}") from None


_END = object()


async def drive_blocking(chunks: Generator[bytes | None, None, None]) -> AsyncIterator[bytes]:
    """Stream a blocking generator from worker threads; `None` items are skipped (they only
    give a cancelled stream a point to stop at).

    Contract: the generator is always closed here, in a worker thread, when the stream
    ends for any reason (finished, error, client gone).  Left to the garbage collector it
    would be closed on whatever thread happens to collect it, possibly one inside the same
    HTTP connection pool that its store watch uses: a self-deadlock on the pool's lock
    (seen: a DELETE hung for good after a `get --watch` client went away)."""
    try:
        while True:
            # A cancellation (the client disconnected) waits for this thread call to return,
            # which takes at most WATCH_CHUNK: the generator is never running when closed.
            item = await run_in_threadpool(next, chunks, _END)
            if item is _END:
                return
            if isinstance(item, bytes):
                yield item
    finally:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(chunks.close)


def build_app(handlers: Handlers, tokens: TokenStore, agent_verify: ssl.SSLContext | bool = True) -> FastAPI:
    """The app; `agent_verify` checks the agents' serving certificates (pods/log)."""
    app = FastAPI(title="Skiff API server", docs_url=None, redoc_url=None, openapi_url="/openapi/v2")
    registry = CollectorRegistry()
    requests = Counter("apiserver_request", "API requests", ["verb", "resource", "code"], registry=registry)
    latency = Histogram("apiserver_request_duration_seconds", "API request latency", ["verb"],
                        registry=registry)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, err: ApiError) -> JSONResponse:
        return JSONResponse(err.status(), status_code=err.code)

    @app.exception_handler(RequestValidationError)
    async def query_error(_: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return JSONResponse(bad_request(f"{where}: {first.get('msg', 'invalid request')}").status(), 400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("unexpected error serving %s %s", request.method, request.url.path)
        body = ApiError(500, "InternalError", "internal error (see the API server's log)").status()
        return JSONResponse(body, status_code=500)

    async def call(verb: str, res: Resource, fn: Any, *args: Any) -> Any:
        started = time.monotonic()
        code = 200
        try:
            return await run_in_threadpool(fn, *args)
        except ApiError as err:
            code = err.code
            raise
        except StoreError as err:
            api = from_store(err)
            code = api.code
            raise api from None
        finally:
            requests.labels(verb, res.plural, str(code)).inc()
            latency.labels(verb).observe(time.monotonic() - started)

    async def authenticate(request: Request) -> Identity:
        try:
            who: Identity = await run_in_threadpool(tokens.authenticate, request.headers.get("authorization"))
        except StoreError as err:
            raise from_store(err) from None
        return who

    async def allow(who: Identity, verb: str, res: Resource, ns: str | None, name: str | None,
                    new: Any = None) -> None:
        current = None
        if who.role == "node" and name and verb not in ("get", "list", "watch"):
            if verb == "patch" and isinstance(new, list):
                raise ApiError(403, "Forbidden", f"{who.name} cannot JSON-patch {res.plural}/{name}: "
                                                 "nodes use merge patches")
            try:
                current = await run_in_threadpool(handlers.store.get, res, ns, name)
            except ApiError as err:
                if not err.is_not_found:
                    raise
        authorize(who, verb, res, ns, name, current, new)

    async def collection(request: Request, group: str, version: str, plural: str,
                         ns: str | None) -> Response:
        res = resolve(group, version, plural, ns, named=False)
        who = await authenticate(request)
        q = request.query_params
        if request.method == "POST":
            body = await read_body(request)
            await allow(who, "create", res, ns, None, body)
            created = await call("create", res, handlers.create, res, ns, body)
            return JSONResponse(created, status_code=201)
        await allow(who, "watch" if q.get("watch") in ("true", "1") else "list", res, ns, None)
        if q.get("watch") in ("true", "1"):
            added, after = await call("watch", res, handlers.start_watch, res, ns, q.get("labelSelector"),
                                      q.get("fieldSelector"), q.get("resourceVersion"))
            stream = drive_blocking(watch_stream(res, ns, q, added, after))
            return StreamingResponse(stream, media_type="application/json")
        listed = await call("list", res, handlers.list_objects, res, ns, q.get("labelSelector"),
                            q.get("fieldSelector"), q.get("resourceVersion"))
        return JSONResponse(listed)

    def watch_stream(res: Resource, ns: str | None, q: Any, added: list[Any],
                     after: int) -> Generator[bytes | None, None, None]:
        """ADDED events first (if any), then changes after `after` until timeoutSeconds; on a
        quiet watch a BOOKMARK every WATCH_CHUNK seconds if the client allows them, else a
        `None` tick (nothing is sent) so the driver can notice a client that went away."""
        try:
            timeout = min(float(q.get("timeoutSeconds") or MAX_WATCH), MAX_WATCH)
        except ValueError:
            timeout = MAX_WATCH
        end = time.monotonic() + timeout
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        label, field = q.get("labelSelector"), q.get("fieldSelector")
        for ev in added:
            yield _line({"type": ev.type, "object": ev.obj})
        try:
            while time.monotonic() < end:
                chunk_end = min(end, time.monotonic() + WATCH_CHUNK)
                # closing(): the store watch's HTTP stream is released here, by us, never by
                # the garbage collector (see drive_blocking).
                with closing(handlers.watch(res, ns, label, field, after, chunk_end)) as events:
                    for ev in events:
                        after = ev.revision
                        yield _line({"type": ev.type, "object": ev.obj})
                if bookmarks and time.monotonic() < end:
                    yield _line({"type": "BOOKMARK", "object": {
                        "kind": res.kind, "apiVersion": res.api_version,
                        "metadata": {"resourceVersion": str(after)}}})
                else:
                    yield None
        except (ApiError, StoreError) as err:
            api = err if isinstance(err, ApiError) else from_store(err)
            yield _line({"type": "ERROR", "object": api.status()})

    async def item(request: Request, group: str, version: str, plural: str, ns: str | None,
                   name: str) -> Response:
        res = resolve(group, version, plural, ns, named=True)
        who = await authenticate(request)
        if request.method == "GET":
            await allow(who, "get", res, ns, name)
            return JSONResponse(await call("get", res, handlers.get, res, ns, name))
        if request.method == "PUT":
            body = await read_body(request)
            await allow(who, "update", res, ns, name, body)
            return JSONResponse(await call("update", res, handlers.replace, res, ns, name, body))
        if request.method == "PATCH":
            body = await read_body(request)
            await allow(who, "patch", res, ns, name, body)
            ctype = request.headers.get("content-type", "application/merge-patch+json")
            return JSONResponse(await call("patch", res, handlers.patch, res, ns, name, body, ctype))
        await allow(who, "delete", res, ns, name)
        grace_text = request.query_params.get("gracePeriodSeconds")
        grace = None
        if grace_text is not None:
            if not grace_text.lstrip("-").isdigit() or int(grace_text) < 0:
                raise bad_request("gracePeriodSeconds must be a non-negative integer")
            grace = int(grace_text)
        return JSONResponse(await call("delete", res, handlers.delete, res, ns, name, grace))

    @app.post("/apis/skiff.io/v1/bootstraptokens")
    async def bootstrap_token(request: Request) -> Response:
        """A new bootstrap token (admin only), valid for `ttlSeconds` (default 1 h, at most
        7 days): what a joining node presents once to obtain its own credential."""
        who = await authenticate(request)
        if who.role != "admin":
            raise ApiError(403, "Forbidden", f"{who.name} cannot create bootstrap tokens")
        body = await read_body(request)
        ttl = (body or {}).get("ttlSeconds", 3600) if isinstance(body, dict) or body is None else None
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not 60 <= ttl <= 7 * 86400:
            raise invalid("BootstrapToken", "", [("ttlSeconds", "Invalid value: an integer from 60 to "
                                                                "604800")])
        token = new_token()
        try:
            await run_in_threadpool(tokens.put, token, "bootstrap", None, float(ttl))
        except StoreError as err:
            raise from_store(err) from None
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + ttl))
        return JSONResponse({"kind": "BootstrapToken", "apiVersion": "skiff.io/v1", "token": token,
                             "ttlSeconds": ttl, "expiration": expires}, status_code=201)

    @app.post("/apis/skiff.io/v1/nodecredentials")
    async def node_credential(request: Request) -> Response:
        """Exchange a bootstrap (or admin) token for a node's own credential."""
        who = await authenticate(request)
        if who.role not in ("bootstrap", "admin"):
            raise ApiError(403, "Forbidden", f"{who.name} cannot create node credentials")
        body = await read_body(request)
        node = body.get("nodeName") if isinstance(body, dict) else None
        causes: list[tuple[str, str]] = []
        check_name(node, "nodeName", False, causes)
        if causes:
            raise invalid("NodeCredential", str(node or ""), causes)
        token = new_token()
        try:
            await run_in_threadpool(tokens.put, token, "node", node)
        except StoreError as err:
            raise from_store(err) from None
        return JSONResponse({"kind": "NodeCredential", "apiVersion": "skiff.io/v1", "nodeName": node,
                             "token": token}, status_code=201)

    @app.get("/apis/skiff.io/v1/clusterstatus")
    async def clusterstatus(request: Request) -> Response:
        """Store members (reachable, leader, term, revision) and the component leaders."""
        who = await authenticate(request)
        authorize(who, "get", LEASES, LEASE_NAMESPACE, None, None, None)
        try:
            return JSONResponse(await run_in_threadpool(cluster_status, handlers))
        except StoreError as err:
            raise from_store(err) from None

    async def subresource(request: Request, group: str, version: str, plural: str, ns: str | None,
                          name: str, sub: str) -> Response:
        res = resolve(group, version, plural, ns, named=True)
        subresources.check(res, sub)
        who = await authenticate(request)
        if request.method == "GET" and sub == "log" and ns is not None:
            await allow(who, "get", res, ns, name)
            return await logproxy.open_log(handlers, ns, name, request.query_params,
                                           request.headers.get("authorization"), agent_verify)
        if request.method == "GET" and sub == "scale":
            await allow(who, "get", res, ns, name)
            return JSONResponse(await call("get", res, subresources.get_scale, handlers, res, ns, name))
        body = await read_body(request)
        if sub == "status" and request.method == "PUT":
            await allow(who, "update", res, ns, name, None)
            return JSONResponse(await call("status", res, subresources.put_status, handlers, res, ns, name,
                                           body))
        if sub == "scale" and request.method == "PUT":
            await allow(who, "update", res, ns, name, None)
            return JSONResponse(await call("scale", res, subresources.put_scale, handlers, res, ns, name,
                                           body))
        if sub == "binding" and request.method == "POST":
            await allow(who, "bind", res, ns, name)
            return JSONResponse(await call("bind", res, subresources.bind, handlers, res, ns, name, body),
                                status_code=201)
        if sub == "eviction" and request.method == "POST":
            await allow(who, "delete", res, ns, name)
            return JSONResponse(await call("evict", res, subresources.evict, handlers, res, ns, name, body),
                                status_code=201)
        raise ApiError(405, "MethodNotAllowed", f"{request.method} is not supported on {plural}/{sub}")

    verbs_c = ["GET", "POST"]
    verbs_i = ["GET", "PUT", "PATCH", "DELETE"]

    @app.api_route("/api/{version}/{plural}", methods=verbs_c)
    async def core_cluster(request: Request, version: str, plural: str) -> Response:
        return await collection(request, "", version, plural, None)

    @app.api_route("/api/{version}/{plural}/{name}", methods=verbs_i)
    async def core_cluster_item(request: Request, version: str, plural: str, name: str) -> Response:
        return await item(request, "", version, plural, None, name)

    @app.api_route("/api/{version}/namespaces/{ns}/{plural}", methods=verbs_c)
    async def core_ns(request: Request, version: str, ns: str, plural: str) -> Response:
        return await collection(request, "", version, plural, ns)

    @app.api_route("/api/{version}/namespaces/{ns}/{plural}/{name}", methods=verbs_i)
    async def core_ns_item(request: Request, version: str, ns: str, plural: str, name: str) -> Response:
        return await item(request, "", version, plural, ns, name)

    @app.api_route("/apis/{group}/{version}/{plural}", methods=verbs_c)
    async def group_cluster(request: Request, group: str, version: str, plural: str) -> Response:
        return await collection(request, group, version, plural, None)

    @app.api_route("/apis/{group}/{version}/{plural}/{name}", methods=verbs_i)
    async def group_cluster_item(request: Request, group: str, version: str, plural: str,
                                 name: str) -> Response:
        return await item(request, group, version, plural, None, name)

    @app.api_route("/apis/{group}/{version}/namespaces/{ns}/{plural}", methods=verbs_c)
    async def group_ns(request: Request, group: str, version: str, ns: str, plural: str) -> Response:
        return await collection(request, group, version, plural, ns)

    @app.api_route("/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}", methods=verbs_i)
    async def group_ns_item(request: Request, group: str, version: str, ns: str, plural: str,
                            name: str) -> Response:
        return await item(request, group, version, plural, ns, name)

    # Registered after the collection routes: /api/v1/namespaces/NS/PLURAL has the same
    # shape as /api/v1/PLURAL/NAME/SUB and must win.
    @app.api_route("/api/{version}/{plural}/{name}/{sub}", methods=["GET", "PUT", "POST"])
    async def core_cluster_sub(request: Request, version: str, plural: str, name: str, sub: str) -> Response:
        return await subresource(request, "", version, plural, None, name, sub)

    @app.api_route("/api/{version}/namespaces/{ns}/{plural}/{name}/{sub}", methods=["GET", "PUT", "POST"])
    async def core_ns_sub(request: Request, version: str, ns: str, plural: str, name: str,
                          sub: str) -> Response:
        return await subresource(request, "", version, plural, ns, name, sub)

    @app.api_route("/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}/{sub}",
                   methods=["GET", "PUT", "POST"])
    async def group_ns_sub(request: Request, group: str, version: str, ns: str, plural: str, name: str,
                           sub: str) -> Response:
        return await subresource(request, group, version, plural, ns, name, sub)

    @app.get("/version")
    async def version() -> Obj:
        return VERSION

    @app.get("/healthz")
    @app.get("/livez")
    async def healthz() -> Response:
        return Response("ok", media_type="text/plain")

    @app.get("/readyz")
    async def readyz() -> Response:
        try:
            await run_in_threadpool(handlers.store.client.get, b"/registry/health")
        except StoreError as err:
            return Response(f"store unavailable: {err.message}", status_code=503, media_type="text/plain")
        return Response("ok", media_type="text/plain")

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        await authenticate(request)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def unknown(path: str) -> Response:
        raise not_found("path", "/" + path)

    return app


def _line(obj: Obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"
