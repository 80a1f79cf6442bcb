"""Version, health, readiness and metrics, and the catch-all 404 for any other path
(added last: it matches everything)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from control_plane.api.objects import Obj
from control_plane.apiserver.context import ApiContext
from control_plane.apiserver.errors import ApiError, not_found

VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-skiff.0.1.0", "platform": "linux/python",
           "goVersion": "n/a", "compiler": "cpython"}


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter()

    @r.get("/version")
    async def version() -> Obj:
        return VERSION

    @r.get("/healthz")
    @r.get("/livez")
    async def healthz() -> Response:
        return Response("ok", media_type="text/plain")

    @r.get("/readyz")
    async def readyz() -> Response:
        try:
            await ctx.run(ctx.handlers.store.ping)
        except ApiError as err:
            return Response(err.message, status_code=503, media_type="text/plain")
        return Response("ok", media_type="text/plain")

    @r.get("/metrics")
    async def metrics(request: Request) -> Response:
        await ctx.authenticate(request)
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return r


def catch_all() -> APIRouter:
    r = APIRouter()

    @r.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def unknown(path: str) -> Response:
        raise not_found("path", "/" + path)

    return r
