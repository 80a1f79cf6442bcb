"""`GET pods/NAME/log`: the API server asks the agent on the pod's node and streams its
answer back, as kube-apiserver does with the kubelet.

The agent serves `GET /containerLogs/{namespace}/{pod}/{container}` (HTTPS, port from
the Node's `status.daemonEndpoints.kubeletEndpoint.Port`, default 10250, at its
InternalIP) with the query parameters `follow`, `tailLines`, `previous`, `timestamps`
and `sinceSeconds`.  The caller's bearer token is passed on, so the agent can check it
(against the API) before it answers.  Errors: 400 when the pod is not on a node yet or
the container is ambiguous, 503 when the agent cannot be reached, otherwise the agent's
own status code and message.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from control_plane.api import defaults
from control_plane.api.objects import Obj
from control_plane.api.resources import BY_PATH
from control_plane.apiserver.errors import ApiError, bad_request
from control_plane.apiserver.handlers import Handlers

PODS, NODES = BY_PATH[("", "v1", "pods")], BY_PATH[("", "v1", "nodes")]
AGENT_PORT = defaults.AGENT_PORT
PASSED_ON = ("follow", "tailLines", "previous", "timestamps", "sinceSeconds")


def agent_endpoint(node: Obj) -> tuple[str, int]:
    """The agent's address and port from its Node object."""
    status = node.get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    address = addresses.get("InternalIP") or addresses.get("Hostname")
    if not address:
        raise ApiError(503, "ServiceUnavailable",
                       f'node "{node["metadata"]["name"]}" has not reported an address for its agent')
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or AGENT_PORT
    return str(address), int(port)


def pick_container(pod: Obj, wanted: str | None) -> str:
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    name = pod["metadata"]["name"]
    if wanted:
        if wanted not in names:
            raise bad_request(f'container {wanted} is not valid for pod {name}')
        return wanted
    if len(names) != 1:
        raise bad_request(f"a container name must be specified for pod {name}, choose one of: {names}")
    return str(names[0])


def check_params(query: Any) -> dict[str, str]:
    params = {k: query[k] for k in PASSED_ON if query.get(k) is not None}
    for key in ("tailLines", "sinceSeconds"):
        if key in params and not params[key].isdigit():
            raise bad_request(f"{key} must be a non-negative integer")
    for key in ("follow", "previous", "timestamps"):
        if key in params and params[key] not in ("true", "false", "1", "0"):
            raise bad_request(f"{key} must be true or false")
    return params


async def open_log(handlers: Handlers, ns: str, name: str, query: Any, authorization: str | None,
                   verify: ssl.SSLContext | bool) -> StreamingResponse:
    pod = await run_in_threadpool(handlers.get, PODS, ns, name)
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise bad_request(f'pod "{name}" is not scheduled to a node yet: no logs')
    container = pick_container(pod, query.get("container"))
    params = check_params(query)
    node = await run_in_threadpool(handlers.get, NODES, None, node_name)
    address, port = agent_endpoint(node)
    url = f"https://{address}:{port}/containerLogs/{ns}/{name}/{container}"
    client = httpx.AsyncClient(verify=verify, timeout=httpx.Timeout(10.0, read=None))
    headers = {"Authorization": authorization} if authorization else {}
    try:
        resp = await client.send(client.build_request("GET", url, params=params, headers=headers),
                                 stream=True)
    except httpx.HTTPError as err:
        await client.aclose()
        raise ApiError(503, "ServiceUnavailable", f'cannot reach the agent of node "{node_name}" at '
                                                  f"{address}:{port}: {type(err).__name__} {err}") from None
    if resp.status_code >= 400:
        body = await resp.aread()
        await resp.aclose()
        await client.aclose()
        raise _agent_error(resp.status_code, body, node_name)

    async def close() -> None:
        await resp.aclose()
        await client.aclose()

    return StreamingResponse(resp.aiter_raw(), media_type="text/plain; charset=utf-8",
                             background=BackgroundTask(close))


def _agent_error(code: int, body: bytes, node: str) -> ApiError:
    import json
    try:
        status = json.loads(body)
        message, reason = str(status.get("message")), str(status.get("reason") or "")
    except (ValueError, AttributeError):
        message, reason = body.decode(errors="replace")[:300], ""
    return ApiError(code, reason or "InternalError", f'the agent of node "{node}": {message}')
