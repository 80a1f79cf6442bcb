"""Skiff's own endpoints under `/apis/skiff.io/v1`: bootstrap tokens (admin), node
credentials (a joining node exchanges its bootstrap token), and the cluster status."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from control_plane.api.names import check_name
from control_plane.apiserver.authn import new_token
from control_plane.apiserver.authz import authorize
from control_plane.apiserver.clusterstatus import LEASE_NAMESPACE, LEASES, cluster_status
from control_plane.apiserver.context import ApiContext, read_body
from control_plane.apiserver.errors import ApiError, invalid

MIN_TTL, MAX_TTL, DEFAULT_TTL = 60, 7 * 86400, 3600


def _ttl(body: object) -> int:
    ttl = (body or {}).get("ttlSeconds", DEFAULT_TTL) if isinstance(body, dict) or body is None else None
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not MIN_TTL <= ttl <= MAX_TTL:
        raise invalid("BootstrapToken", "", [("ttlSeconds", f"Invalid value: an integer from {MIN_TTL} to "
                                                            f"{MAX_TTL}")])
    return ttl


def router(ctx: ApiContext) -> APIRouter:
    r = APIRouter()

    @r.post("/apis/skiff.io/v1/bootstraptokens")
    async def bootstrap_token(request: Request) -> Response:
        """A new bootstrap token (admin only), valid for `ttlSeconds` (default 1 h, at most
        7 days): what a joining node presents once to obtain its own credential."""
        who = await ctx.authenticate(request)
        if who.role != "admin":
            raise ApiError(403, "Forbidden", f"{who.name} cannot create bootstrap tokens")
        ttl = _ttl(await read_body(request))
        token = new_token()
        await ctx.run(ctx.tokens.put, token, "bootstrap", None, float(ttl))
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + ttl))
        return JSONResponse({"kind": "BootstrapToken", "apiVersion": "skiff.io/v1", "token": token,
                             "ttlSeconds": ttl, "expiration": expires}, status_code=201)

    @r.post("/apis/skiff.io/v1/nodecredentials")
    async def node_credential(request: Request) -> Response:
        """Exchange a bootstrap (or admin) token for a node's own credential."""
        who = await ctx.authenticate(request)
        if who.role not in ("bootstrap", "admin"):
            raise ApiError(403, "Forbidden", f"{who.name} cannot create node credentials")
        body = await read_body(request)
        node = body.get("nodeName") if isinstance(body, dict) else None
        causes: list[tuple[str, str]] = []
        check_name(node, "nodeName", False, causes)
        if causes:
            raise invalid("NodeCredential", str(node or ""), causes)
        token = new_token()
        await ctx.run(ctx.tokens.put, token, "node", node)
        return JSONResponse({"kind": "NodeCredential", "apiVersion": "skiff.io/v1", "nodeName": node,
                             "token": token}, status_code=201)

    @r.get("/apis/skiff.io/v1/clusterstatus")
    async def clusterstatus(request: Request) -> Response:
        """Store members (reachable, leader, term, revision) and the component leaders."""
        who = await ctx.authenticate(request)
        authorize(who, "get", LEASES, LEASE_NAMESPACE, None, None, None)
        return JSONResponse(await ctx.run(cluster_status, ctx.handlers))

    return r
