"""A minimal ASGI layer for the member's client API.

The store's API is a fixed set of POST paths with JSON bodies; a general framework's
routing and middleware cost a quarter of a member's CPU per request (measured with
py-spy under load).  This module offers only what the server uses: exact-path routing
with a method check, a request with headers and a size-capped streaming body, JSON,
plain and streaming responses, and lifespan start/stop.  Unknown paths answer 404 and
wrong methods 405, as JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Request:
    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self._receive = receive
        self.headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.path: str = scope["path"]
        self._body_done = False

    async def stream(self) -> AsyncIterator[bytes]:
        """The body in chunks as they arrive."""
        while not self._body_done:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._body_done = True
                return
            self._body_done = not message.get("more_body", False)
            chunk = message.get("body", b"")
            if chunk:
                yield chunk

    async def is_disconnected(self) -> bool:
        """True once the client has gone away (call after the body was read)."""
        try:
            message = await asyncio.wait_for(self._receive(), 0.001)
        except TimeoutError:
            return False
        return bool(message["type"] == "http.disconnect")


class Response:
    def __init__(self, body: bytes = b"", status_code: int = 200,
                 media_type: str = "application/json") -> None:
        self.body = body
        self.status_code = status_code
        self.media_type = media_type

    async def __call__(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": [(b"content-type", self.media_type.encode()),
                                (b"content-length", str(len(self.body)).encode())]})
        await send({"type": "http.response.body", "body": self.body})


class JSONResponse(Response):
    def __init__(self, content: Any, status_code: int = 200) -> None:
        super().__init__(json.dumps(content, separators=(",", ":")).encode(), status_code)


class StreamingResponse(Response):
    def __init__(self, chunks: AsyncIterator[bytes], media_type: str = "application/json") -> None:
        super().__init__(b"", 200, media_type)
        self.chunks = chunks

    async def __call__(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", self.media_type.encode())]})
        try:
            async for chunk in self.chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            await self.chunks.aclose()  # type: ignore[attr-defined]
        await send({"type": "http.response.body", "body": b""})


Endpoint = Callable[[Request], Awaitable[Response]]


class App:
    """Exact-path router: {path: (method, endpoint)}, with a lifespan context."""

    def __init__(self, routes: dict[str, tuple[str, Endpoint]],
                 lifespan: Callable[[], AbstractAsyncContextManager[None]]) -> None:
        self.routes = routes
        self.lifespan = lifespan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        route = self.routes.get(scope["path"])
        if route is None:
            await JSONResponse({"error": "Not Found", "message": "Not Found", "code": 5}, 404)(send)
            return
        method, endpoint = route
        if scope["method"] != method:
            await JSONResponse({"error": "Method Not Allowed", "message": "Method Not Allowed",
                                "code": 12}, 405)(send)
            return
        response = await endpoint(Request(scope, receive))
        await response(send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        context = self.lifespan()
        message = await receive()
        assert message["type"] == "lifespan.startup"
        try:
            await context.__aenter__()
        except Exception as err:
            log.exception("startup failed")
            await send({"type": "lifespan.startup.failed", "message": str(err)})
            return
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        try:
            await context.__aexit__(None, None, None)
        finally:
            await send({"type": "lifespan.shutdown.complete"})
