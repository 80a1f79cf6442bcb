"""What every route of one API server shares: the verbs, the tokens, the metrics, and the
three steps of a request (authenticate, authorize, call a verb in a worker thread).

Contract: every method may raise `ApiError`, which the app turns into its Status
response.  No `StoreError` reaches here: the store-facing classes (`storage.ObjectStore`,
`authn.TokenStore`) translate them, once, at the boundary.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.concurrency import run_in_threadpool

from control_plane.api.resources import BY_PATH, Resource
from control_plane.apiserver.authn import Identity, TokenStore
from control_plane.apiserver.authz import authorize
from control_plane.apiserver.errors import ApiError, bad_request
from control_plane.apiserver.handlers import Handlers
from control_plane.apiserver.validation import MAX_OBJECT_BYTES

T = TypeVar("T")


@dataclass
class Metrics:
    """The API server's Prometheus metrics (one registry per app, so tests can build many)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter("apiserver_request", "API requests", ["verb", "resource", "code"],
                                registry=self.registry)
        self.latency = Histogram("apiserver_request_duration_seconds", "API request latency", ["verb"],
                                 registry=self.registry)


@dataclass
class ApiContext:
    handlers: Handlers
    tokens: TokenStore
    agent_verify: ssl.SSLContext | bool = True  # checks the agents' serving certificates (pods/log)
    metrics: Metrics = field(default_factory=Metrics)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker thread (the store client is synchronous)."""
        return await run_in_threadpool(fn, *args)

    async def call(self, verb: str, res: Resource, fn: Callable[..., T], *args: Any) -> T:
        """`run`, counted and timed in the metrics by verb, resource and status code."""
        started = time.monotonic()
        code = 200
        try:
            return await self.run(fn, *args)
        except ApiError as err:
            code = err.code
            raise
        finally:
            self.metrics.requests.labels(verb, res.plural, str(code)).inc()
            self.metrics.latency.labels(verb).observe(time.monotonic() - started)

    async def authenticate(self, request: Request) -> Identity:
        """Who sent `request` (401 without a valid bearer token)."""
        return await self.run(self.tokens.authenticate, request.headers.get("authorization"))

    async def allow(self, who: Identity, verb: str, res: Resource, ns: str | None, name: str | None,
                    new: Any = None) -> None:
        """403 unless `who` may do `verb`; a node's write is judged against the stored object."""
        current = None
        if who.role == "node" and name and verb not in ("get", "list", "watch"):
            if verb == "patch" and isinstance(new, list):
                raise ApiError(403, "Forbidden", f"{who.name} cannot JSON-patch {res.plural}/{name}: "
                                                 "nodes use merge patches")
            try:
                current = await self.run(self.handlers.store.get, res, ns, name)
            except ApiError as err:
                if not err.is_not_found:
                    raise
        authorize(who, verb, res, ns, name, current, new)


def resolve(group: str, version: str, plural: str, ns: str | None, named: bool) -> Resource:
    """The resource a URL names; 404 for an unknown one or a namespace where none belongs."""
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


# Nesting levels of a body: every reader below (validation, patches, copies) recurses,
# and stays far from Python's recursion limit.
MAX_DEPTH = 100


def _depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (iteratively: any depth is safe here)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


async def read_body(request: Request) -> Any:
    """The JSON body (None when empty); 413 past MAX_OBJECT_BYTES, 400 when not JSON or
    nested more than MAX_DEPTH levels."""
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_OBJECT_BYTES:
            raise ApiError(413, "RequestEntityTooLarge",
                           f"the request is larger than {MAX_OBJECT_BYTES} bytes (1.5 MiB)")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks) or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise bad_request(f"the request body is not valid JSON: {err}") from None
    except RecursionError:
        raise bad_request(f"the request body nests more than {MAX_DEPTH} levels deep") from None
    if _depth(body) > MAX_DEPTH:
        raise bad_request(f"the request body nests more than {MAX_DEPTH} levels deep")
    return body
