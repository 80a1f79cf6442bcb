"""The API server's HTTP surface (FastAPI): the routers, and errors as Kubernetes Status.

Routing and verbs live in `routes/` (one router per concern) over one `ApiContext`
(`context.py`: authn, authz, metrics, the worker-thread call that translates store
errors); the verbs themselves are `handlers.py`.  Every error is a Kubernetes Status; an
unexpected exception is logged and answered 500 without a traceback.
"""

from __future__ import annotations

import logging
import ssl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from control_plane.apiserver.authn import TokenStore
from control_plane.apiserver.context import ApiContext
from control_plane.apiserver.errors import ApiError, bad_request
from control_plane.apiserver.handlers import Handlers
from control_plane.apiserver.routes import health, rest, skiff

log = logging.getLogger(__name__)


def _error_handlers(app: FastAPI) -> None:
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


def build_app(handlers: Handlers, tokens: TokenStore, agent_verify: ssl.SSLContext | bool = True) -> FastAPI:
    """The app; `agent_verify` checks the agents' serving certificates (pods/log)."""
    app = FastAPI(title="Skiff API server", docs_url=None, redoc_url=None, openapi_url="/openapi/v2")
    _error_handlers(app)
    ctx = ApiContext(handlers, tokens, agent_verify)
    # Order matters: Skiff's fixed paths and health before the REST patterns they would
    # also match, the catch-all last.
    app.include_router(skiff.router(ctx))
    app.include_router(health.router(ctx))
    app.include_router(rest.router(ctx))
    app.include_router(health.catch_all())
    return app
