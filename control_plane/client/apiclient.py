"""`ApiClient`: HTTPS to the API servers of all masters, with failover and deadlines.

Contract:
- Every call has a deadline (`timeout`, default 10 s); it never waits longer.
- Failover: a server that refuses or drops the connection is skipped and the next URL
  is tried, for every verb, because a refused connection means the request was never
  sent.  When every server refused twice in a row the call fails at once
  (`Unreachable`) instead of waiting out its deadline.  A read that times out is
  retried elsewhere only for GET; for a write the outcome is unknown and
  `OutcomeUnknown` is raised (the caller decides, e.g. a create retried may meet 409
  AlreadyExists).  GETs also move on after a 503 (store away).
- Errors: `StatusError` (the server's Kubernetes Status), `Unreachable` (no server),
  `OutcomeUnknown`.  No httpx exception escapes.
- With `balance`, successive calls rotate over the servers (components spread their
  load over all masters); without, calls stick to one server until it fails.
- Thread-safe: one instance is shared by a component's threads.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from control_plane.api.objects import Obj
from control_plane.client.errors import OutcomeUnknown, StatusError, Unreachable
from control_plane.client.interface import Api

RETRY_PAUSE = 0.2
FAILED_FOR = 5.0  # seconds a server that failed is skipped
WATCH_READ_TIMEOUT = 30.0  # a watch with bookmarks hears from the server every few seconds
_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_LOST_ANSWER = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError,
                httpx.WriteTimeout)


class ApiClient:
    def __init__(self, servers: list[str], token: str, ca_file: Path | None = None,
                 timeout: float = 10.0, user_agent: str = "skiff", balance: bool = False) -> None:
        if not servers:
            raise ValueError("at least one API server URL is needed")
        self.servers = [s.rstrip("/") for s in servers]
        self.timeout = timeout
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        self._http = httpx.Client(verify=verify, headers={"Authorization": f"Bearer {token}",
                                                          "User-Agent": user_agent},
                                  limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))
        self._current = 0
        self._down_until: dict[int, float] = {}
        self.balance = balance
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def set_token(self, token: str) -> None:
        """Use `token` from now on (an agent learns its credential after it starts)."""
        self._http.headers["Authorization"] = f"Bearer {token}"

    @property
    def server(self) -> str:
        """The URL the next call goes to first."""
        with self._lock:
            return self.servers[self._current]

    # ---- verbs ------------------------------------------------------------------------
    def get(self, path: str, params: dict[str, str] | None = None, timeout: float | None = None) -> Obj:
        return self.request("GET", path, params=params, timeout=timeout)

    def list(self, path: str, label: str | None = None, field: str | None = None) -> Obj:
        params = {k: v for k, v in (("labelSelector", label), ("fieldSelector", field)) if v}
        return self.request("GET", path, params=params)

    def create(self, path: str, obj: Obj) -> Obj:
        return self.request("POST", path, body=obj)

    def replace(self, path: str, obj: Obj) -> Obj:
        return self.request("PUT", path, body=obj)

    def patch(self, path: str, body: Any, json_patch: bool = False) -> Obj:
        ctype = "application/json-patch+json" if json_patch else "application/merge-patch+json"
        return self.request("PATCH", path, body=body, content_type=ctype)

    def delete(self, path: str, grace: int | None = None) -> Obj:
        params = {"gracePeriodSeconds": str(grace)} if grace is not None else None
        return self.request("DELETE", path, params=params)

    # ---- plumbing -----------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None,
                content_type: str = "application/json", timeout: float | None = None) -> Obj:
        """Send one request, failing over between servers until the deadline."""
        deadline = time.monotonic() + (timeout or self.timeout)
        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if content is not None else {}
        last = "no attempt was made"
        refused = 0  # connection failures in a row: every server refusing twice is an answer
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or refused >= 2 * len(self.servers):
                raise Unreachable(f"no API server answered {method} {path} "
                                  f"{'in time' if remaining <= 0 else '(every one refused)'} ({last})")
            index, base = self._pick()
            try:
                resp = self._http.request(method, base + path, content=content, params=params,
                                          headers=headers, timeout=remaining)
            except _CONNECT_ERRORS as err:
                last = f"{base}: {_describe(err)}"
                refused += 1
                self._advance(index)
                time.sleep(min(RETRY_PAUSE, max(0.0, deadline - time.monotonic())))
                continue
            except _LOST_ANSWER as err:
                if method != "GET":
                    raise OutcomeUnknown(f"{method} {path} to {base}: the answer was lost "
                                         f"({_describe(err)}); it may or may not have happened") from None
                last = f"{base}: {_describe(err)}"
                self._advance(index)
                continue
            except httpx.HTTPError as err:
                raise Unreachable(f"{base}: {_describe(err)}") from None
            if resp.status_code == 503 and method == "GET":
                last = f"{base}: 503 {resp.text[:200]}"
                self._advance(index)
                time.sleep(min(RETRY_PAUSE, max(0.0, deadline - time.monotonic())))
                continue
            return _decode(resp)

    def watch(self, path: str, resource_version: str | None, timeout_seconds: int = 300,
              label: str | None = None, field: str | None = None) -> Generator[Obj, None, None]:
        """Events (`{"type", "object"}`) after `resource_version`, BOOKMARKs included.

        Ends when the server closes the stream (timeoutSeconds); raises `StatusError`
        (410 when the version is compacted) or `Unreachable`.  One server, no failover:
        the caller resumes from the last resourceVersion it saw.
        """
        params = {"watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": str(timeout_seconds)}
        if resource_version:
            params["resourceVersion"] = resource_version
        params.update({k: v for k, v in (("labelSelector", label), ("fieldSelector", field)) if v})
        index, base = self._pick()
        timeout = httpx.Timeout(self.timeout, read=WATCH_READ_TIMEOUT)
        try:
            with self._http.stream("GET", base + path, params=params, timeout=timeout) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    _decode(resp)
                for line in resp.iter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise StatusError(int(status.get("code", 500)), status.get("reason", ""),
                                          status.get("message", "watch error"), status)
                    yield event
        except (httpx.HTTPError, json.JSONDecodeError) as err:
            self._advance(index)
            raise Unreachable(f"watch {path} on {base}: {_describe(err)}") from None

    def probe(self, server: str, path: str = "/readyz", timeout: float | None = None) -> str | None:
        """One GET of `path` on one server (no failover, no retry): None if it answered
        2xx, else one line saying why not.  For health checks of each server."""
        try:
            resp = self._http.get(server.rstrip("/") + path, timeout=timeout or self.timeout)
        except httpx.HTTPError as err:
            return _describe(err)
        if resp.status_code >= 300:
            return f"{resp.status_code} {resp.text.strip()[:200]}"
        return None

    def stream_text(self, path: str, params: dict[str, str] | None = None) -> Iterator[str]:
        """The body of a GET as text chunks, as they arrive (logs, `follow=true`).

        Fails over like `request` while connecting (nothing was received yet); once the
        body streams, a lost connection raises `Unreachable` and the caller decides.
        Raises `StatusError` for an error answer.  No read deadline while streaming.
        """
        deadline = time.monotonic() + self.timeout
        last = "no attempt was made"
        while time.monotonic() < deadline:
            index, base = self._pick()
            timeout = httpx.Timeout(self.timeout, read=None)
            try:
                with self._http.stream("GET", base + path, params=params, timeout=timeout) as resp:
                    if resp.status_code >= 400:
                        resp.read()
                        _decode(resp)
                    yield from resp.iter_text()
                    return
            except _CONNECT_ERRORS as err:
                last = f"{base}: {_describe(err)}"
                self._advance(index)
                time.sleep(min(RETRY_PAUSE, max(0.0, deadline - time.monotonic())))
            except httpx.HTTPError as err:
                raise Unreachable(f"GET {path} on {base}: {_describe(err)}") from None
        raise Unreachable(f"no API server answered GET {path} in time ({last})")

    def _pick(self) -> tuple[int, str]:
        """The next server in rotation that has not failed in the last FAILED_FOR seconds
        (spreading load over the masters), or the next one if all have."""
        now = time.monotonic()
        with self._lock:
            n = len(self.servers)
            for step in range(n):
                index = (self._current + step) % n
                if self._down_until.get(index, 0.0) <= now:
                    break
            else:
                index = self._current % n
            self._current = (index + 1) % n if self.balance else index
            return index, self.servers[index]

    def _advance(self, failed: int) -> None:
        """Note that server `failed` did not answer: skip it for a while."""
        with self._lock:
            self._down_until[failed] = time.monotonic() + FAILED_FOR
            if self._current == failed:
                self._current = (failed + 1) % len(self.servers)


def _describe(err: Exception) -> str:
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _decode(resp: httpx.Response) -> Obj:
    try:
        body = resp.json() if resp.content else {}
    except ValueError:
        body = {"message": resp.text[:300]}
    if resp.status_code >= 400:
        if not isinstance(body, dict):
            body = {}
        raise StatusError(resp.status_code, str(body.get("reason", "")),
                          str(body.get("message") or f"HTTP {resp.status_code}"), body)
    return body if isinstance(body, dict) else {"value": body}


if TYPE_CHECKING:  # the HTTPS client implements the seam, checked by mypy
    _conforms: type[Api] = ApiClient
