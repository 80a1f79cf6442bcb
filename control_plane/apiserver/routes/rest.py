"""Kubernetes' REST paths: collections (list, watch, create), objects (get, update, patch,
delete) and subresources, for the core group (`/api/v1/...`) and named groups
(`/apis/GROUP/VERSION/...`), cluster-scoped and namespaced.

Order matters: the subresource paths are added after the collection paths, because
`/api/v1/namespaces/NS/PLURAL` has the same shape as `/api/v1/PLURAL/NAME/SUB` and must win.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from control_plane.apiserver import logproxy, subresources, watchstream
from control_plane.apiserver.context import ApiContext, read_body, resolve
from control_plane.apiserver.errors import ApiError, bad_request

COLLECTION_VERBS = ["GET", "POST"]
ITEM_VERBS = ["GET", "PUT", "PATCH", "DELETE"]
SUB_VERBS = ["GET", "PUT", "POST"]


def _grace(request: Request) -> int | None:
    text = request.query_params.get("gracePeriodSeconds")
    if text is None:
        return None
    if not text.lstrip("-").isdigit() or int(text) < 0:
        raise bad_request("gracePeriodSeconds must be a non-negative integer")
    return int(text)


class Rest:
    """The verbs of one API server's REST paths."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    async def collection(self, request: Request, group: str, version: str, plural: str,
                         ns: str | None) -> Response:
        ctx, handlers = self.ctx, self.ctx.handlers
        res = resolve(group, version, plural, ns, named=False)
        who = await ctx.authenticate(request)
        q = request.query_params
        if request.method == "POST":
            body = await read_body(request)
            await ctx.allow(who, "create", res, ns, None, body)
            created = await ctx.call("create", res, handlers.create, res, ns, body)
            return JSONResponse(created, status_code=201)
        watching = q.get("watch") in ("true", "1")
        await ctx.allow(who, "watch" if watching else "list", res, ns, None)
        label, field, rv = q.get("labelSelector"), q.get("fieldSelector"), q.get("resourceVersion")
        if watching:
            added, after = await ctx.call("watch", res, handlers.start_watch, res, ns, label, field, rv)
            stream = watchstream.drive_blocking(watchstream.events(handlers, res, ns, q, added, after))
            return StreamingResponse(stream, media_type="application/json")
        return JSONResponse(await ctx.call("list", res, handlers.list_objects, res, ns, label, field, rv))

    async def item(self, request: Request, group: str, version: str, plural: str, ns: str | None,
                   name: str) -> Response:
        ctx, handlers = self.ctx, self.ctx.handlers
        res = resolve(group, version, plural, ns, named=True)
        who = await ctx.authenticate(request)
        if request.method == "GET":
            await ctx.allow(who, "get", res, ns, name)
            return JSONResponse(await ctx.call("get", res, handlers.get, res, ns, name))
        if request.method == "PUT":
            body = await read_body(request)
            await ctx.allow(who, "update", res, ns, name, body)
            return JSONResponse(await ctx.call("update", res, handlers.replace, res, ns, name, body))
        if request.method == "PATCH":
            body = await read_body(request)
            await ctx.allow(who, "patch", res, ns, name, body)
            ctype = request.headers.get("content-type", "application/merge-patch+json")
            return JSONResponse(await ctx.call("patch", res, handlers.patch, res, ns, name, body, ctype))
        await ctx.allow(who, "delete", res, ns, name)
        grace = _grace(request)
        return JSONResponse(await ctx.call("delete", res, handlers.delete, res, ns, name, grace))

    async def subresource(self, request: Request, group: str, version: str, plural: str, ns: str | None,
                          name: str, sub: str) -> Response:
        ctx, handlers = self.ctx, self.ctx.handlers
        res = resolve(group, version, plural, ns, named=True)
        subresources.check(res, sub)
        who = await ctx.authenticate(request)
        if request.method == "GET" and sub == "log" and ns is not None:
            await ctx.allow(who, "get", res, ns, name)
            return await logproxy.open_log(handlers, ns, name, request.query_params,
                                           request.headers.get("authorization"), ctx.agent_verify)
        if request.method == "GET" and sub == "scale":
            await ctx.allow(who, "get", res, ns, name)
            return JSONResponse(await ctx.call("get", res, subresources.get_scale, handlers, res, ns, name))
        body = await read_body(request)
        # (method, subresource) -> (authorization verb, metrics verb, the verb, status code)
        writes = {("PUT", "status"): ("update", "status", subresources.put_status, 200),
                  ("PUT", "scale"): ("update", "scale", subresources.put_scale, 200),
                  ("POST", "binding"): ("bind", "bind", subresources.bind, 201),
                  ("POST", "eviction"): ("delete", "evict", subresources.evict, 201)}
        found = writes.get((request.method, sub))
        if found is None:
            raise ApiError(405, "MethodNotAllowed", f"{request.method} is not supported on {plural}/{sub}")
        authz_verb, metric, fn, code = found
        await ctx.allow(who, authz_verb, res, ns, name, None)
        return JSONResponse(await ctx.call(metric, res, fn, handlers, res, ns, name, body), status_code=code)


def router(ctx: ApiContext) -> APIRouter:
    """Every REST path, in the order the module doc explains."""
    rest, r = Rest(ctx), APIRouter()
    _core_paths(r, rest)
    _group_paths(r, rest)
    _subresource_paths(r, rest)
    return r


# FastAPI reads path parameters from an endpoint's signature: one small endpoint per path
# shape (a parameter missing from the path would become a query parameter).
def _core_paths(r: APIRouter, rest: Rest) -> None:
    @r.api_route("/api/{version}/{plural}", methods=COLLECTION_VERBS)
    async def core_cluster(request: Request, version: str, plural: str) -> Response:
        return await rest.collection(request, "", version, plural, None)

    @r.api_route("/api/{version}/{plural}/{name}", methods=ITEM_VERBS)
    async def core_cluster_item(request: Request, version: str, plural: str, name: str) -> Response:
        return await rest.item(request, "", version, plural, None, name)

    @r.api_route("/api/{version}/namespaces/{ns}/{plural}", methods=COLLECTION_VERBS)
    async def core_ns(request: Request, version: str, ns: str, plural: str) -> Response:
        return await rest.collection(request, "", version, plural, ns)

    @r.api_route("/api/{version}/namespaces/{ns}/{plural}/{name}", methods=ITEM_VERBS)
    async def core_ns_item(request: Request, version: str, ns: str, plural: str, name: str) -> Response:
        return await rest.item(request, "", version, plural, ns, name)


def _group_paths(r: APIRouter, rest: Rest) -> None:
    @r.api_route("/apis/{group}/{version}/{plural}", methods=COLLECTION_VERBS)
    async def group_cluster(request: Request, group: str, version: str, plural: str) -> Response:
        return await rest.collection(request, group, version, plural, None)

    @r.api_route("/apis/{group}/{version}/{plural}/{name}", methods=ITEM_VERBS)
    async def group_cluster_item(request: Request, group: str, version: str, plural: str,
                                 name: str) -> Response:
        return await rest.item(request, group, version, plural, None, name)

    @r.api_route("/apis/{group}/{version}/namespaces/{ns}/{plural}", methods=COLLECTION_VERBS)
    async def group_ns(request: Request, group: str, version: str, ns: str, plural: str) -> Response:
        return await rest.collection(request, group, version, plural, ns)

    @r.api_route("/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}", methods=ITEM_VERBS)
    async def group_ns_item(request: Request, group: str, version: str, ns: str, plural: str,
                            name: str) -> Response:
        return await rest.item(request, group, version, plural, ns, name)


def _subresource_paths(r: APIRouter, rest: Rest) -> None:
    @r.api_route("/api/{version}/{plural}/{name}/{sub}", methods=SUB_VERBS)
    async def core_cluster_sub(request: Request, version: str, plural: str, name: str, sub: str) -> Response:
        return await rest.subresource(request, "", version, plural, None, name, sub)

    @r.api_route("/api/{version}/namespaces/{ns}/{plural}/{name}/{sub}", methods=SUB_VERBS)
    async def core_ns_sub(request: Request, version: str, ns: str, plural: str, name: str,
                          sub: str) -> Response:
        return await rest.subresource(request, "", version, plural, ns, name, sub)

    @r.api_route("/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}/{sub}", methods=SUB_VERBS)
    async def group_ns_sub(request: Request, group: str, version: str, ns: str, plural: str, name: str,
                           sub: str) -> Response:
        return await rest.subresource(request, group, version, plural, ns, name, sub)
