"""Request and response helpers of the JSON gateway (etcd's grpc-gateway paths): bodies
read with a size cap, request ids, the error body, member JSON, watch lines."""

from __future__ import annotations

import json
from typing import Any

from raftstore import codec
from raftstore import errors as e
from raftstore.asgi import JSONResponse, Request
from raftstore.config import MAX_REQUEST_BYTES

Json = dict[str, Any]
MAX_BODY = MAX_REQUEST_BYTES * 4 // 3 + 64 * 1024


def line(obj: Json) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def strip_scheme(url: str) -> str:
    return url.removeprefix("http://").removeprefix("https://").rstrip("/")


def member_json(m: Json) -> Json:
    out: Json = {"ID": str(m["id"]), "name": m["name"], "peerURLs": [f"http://{m['peer']}"]}
    if m["client"]:
        out["clientURLs"] = [f"http://{m['client']}"]
    return out


def request_id(req: Request) -> str | None:
    rid = req.headers.get("x-skiff-request-id")
    if rid is not None and not (0 < len(rid) <= 128):
        raise e.InvalidArgument("header X-Skiff-Request-Id: 1 to 128 characters")
    return rid


def check_size(cmd: Json) -> Json:
    if codec.request_bytes(cmd) > MAX_REQUEST_BYTES:
        raise e.InvalidArgument(e.MSG_REQUEST_TOO_LARGE)
    return cmd


async def read_json(request: Request) -> Any:
    """The request body as JSON, refusing bodies over MAX_BODY before reading them whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY:
        raise e.StoreError(e.MSG_REQUEST_TOO_LARGE, e.INVALID_ARGUMENT)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise e.StoreError(e.MSG_REQUEST_TOO_LARGE, e.INVALID_ARGUMENT)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as err:
        raise e.InvalidArgument(f"malformed JSON body: {err}") from None


def error_response(err: e.StoreError) -> JSONResponse:
    return JSONResponse({"error": err.message, "message": err.message, "code": err.code},
                        status_code=err.http_status)
