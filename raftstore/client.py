"""A Python client for the etcd v3 JSON API, for Skiff's store and for a real etcd.

- `endpoints`: 'host:port' (or URLs); any member serves any request.
- Every call has a deadline (`timeout`, whole call including failover).
- Failover: a connection failure, a timeout, or an Unavailable (503) / DeadlineExceeded
  (504) answer moves to the next endpoint; other errors are raised at once.
- Writes carry one `X-Skiff-Request-Id` for all their attempts, so Skiff's store applies
  a retried write at most once.  A real etcd ignores the header: there a retry after an
  unknown outcome may apply twice (etcd's own client has the same limit).
- `watch` resumes from the last revision it delivered after a disconnect or a member
  failure, so each revision is delivered once, in order.

Thread-safety: one client may be shared by threads (httpx.Client is thread-safe); the
current endpoint index is advisory.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
import weakref
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from raftstore import errors as e
from raftstore.codec import b64e, kv_from_json
from raftstore.mvcc import KeyValue
from raftstore.txnops import op_delete, op_put

Json = dict[str, Any]
RETRYABLE_CODES = {e.UNAVAILABLE, e.DEADLINE_EXCEEDED}
WATCH_SILENCE = 15.0


@dataclass
class RangeResponse:
    kvs: list[KeyValue]
    count: int
    more: bool
    revision: int


@dataclass
class WriteResponse:
    revision: int
    prev_kvs: list[KeyValue] = field(default_factory=list)
    deleted: int = 0


@dataclass
class TxnResponse:
    succeeded: bool
    revision: int
    responses: list[Json]


@dataclass(frozen=True)
class WatchEvent:
    type: str  # "PUT" or "DELETE"
    kv: KeyValue
    prev_kv: KeyValue | None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


def prefix_end(prefix: bytes) -> bytes:
    """The range_end that selects every key starting with `prefix` (etcd's rule)."""
    b = bytearray(prefix)
    for i in range(len(b) - 1, -1, -1):
        if b[i] < 0xFF:
            b[i] += 1
            return bytes(b[: i + 1])
    return b"\0"


def _url(endpoint: str) -> str:
    return endpoint if endpoint.startswith(("http://", "https://")) else f"http://{endpoint}"


class StoreClient:
    """Client over a list of endpoints.  Use as a context manager or call `close()`."""

    def __init__(self, endpoints: list[str] | str, timeout: float = 5.0,
                 attempt_timeout: float | None = None) -> None:
        if isinstance(endpoints, str):
            endpoints = [p for p in endpoints.split(",") if p.strip()]
        if not endpoints:
            raise ValueError("at least one endpoint is required")
        self.endpoints = [_url(p.strip()) for p in endpoints]
        self.timeout = timeout
        self.attempt_timeout = attempt_timeout or min(timeout, 3.0)
        self._current = 0
        # One HTTP client per thread: a shared httpx pool serialises many threads on its
        # lock (measured: a quarter of the API server's time went waiting there).
        self._local = threading.local()
        # Weakly held: a thread's client is closed and freed when the thread ends (the API
        # server's worker threads come and go; a list here kept every client, with its open
        # connections, for as long as the process lived).
        self._clients: weakref.WeakSet[httpx.Client] = weakref.WeakSet()
        self._clients_lock = threading.Lock()
        # Request ids: a random prefix per client and a counter (unique, and cheaper than
        # a uuid4 per write).
        self._rid_prefix = uuid.uuid4().hex[:16]
        self._rid_counter = itertools.count()

    @property
    def _http(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(timeout=self.attempt_timeout,
                                  limits=httpx.Limits(max_connections=16, max_keepalive_connections=8))
            self._local.client = client
            with self._clients_lock:
                self._clients.add(client)
            weakref.finalize(threading.current_thread(), client.close)
        return client

    @property
    def current_endpoint(self) -> str:
        """The endpoint the next call tries first: after a call from one thread with no
        other user of this client, the member that answered it."""
        return self.endpoints[self._current % len(self.endpoints)]

    def close(self) -> None:
        with self._clients_lock:
            clients = list(self._clients)
            self._clients.clear()
        for client in clients:
            client.close()

    def __enter__(self) -> StoreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- transport ----------------------------------------------------------------
    def call(self, path: str, body: Json, write: bool = False, endpoint: str | None = None,
             timeout: float | None = None) -> Json:
        """POST `body` to `path`, failing over between endpoints until the deadline."""
        deadline = time.monotonic() + (timeout or self.timeout)
        headers = {"X-Skiff-Request-Id": f"{self._rid_prefix}{next(self._rid_counter):x}"} if write else {}
        last: e.StoreError = e.Unavailable("no endpoint answered")
        unknown = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if unknown and write:
                    raise e.UnknownOutcome(f"{last.message} (the write may have been applied)")
                raise last
            base = endpoint or self.endpoints[self._current % len(self.endpoints)]
            try:
                resp = self._http.post(base + path, json=body, headers=headers,
                                       timeout=min(left, self.attempt_timeout))
            except httpx.ConnectError as err:
                last = e.Unavailable(f"{base}: {err}")
            except httpx.HTTPError as err:
                last, unknown = e.Unavailable(f"{base}: {type(err).__name__} {err}"), True
            else:
                if resp.status_code == 200:
                    return resp.json()  # type: ignore[no-any-return]
                err_obj = _error_from(resp)
                if err_obj.code not in RETRYABLE_CODES:
                    raise err_obj
                last, unknown = err_obj, unknown or isinstance(err_obj, e.UnknownOutcome)
            if endpoint is not None:
                raise last
            self._current += 1
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    # ---- kv -----------------------------------------------------------------------
    def get(self, key: bytes, range_end: bytes = b"", *, revision: int = 0, limit: int = 0,
            serializable: bool = False, keys_only: bool = False, count_only: bool = False,
            endpoint: str | None = None) -> RangeResponse:
        body: Json = {"key": b64e(key)}
        if range_end:
            body["range_end"] = b64e(range_end)
        for name, val in (("revision", revision), ("limit", limit)):
            if val:
                body[name] = str(val)
        for name, flag in (("serializable", serializable), ("keys_only", keys_only),
                           ("count_only", count_only)):
            if flag:
                body[name] = True
        out = self.call("/v3/kv/range", body, endpoint=endpoint)
        return RangeResponse([kv_from_json(k) for k in out.get("kvs", [])], int(out.get("count", 0)),
                             bool(out.get("more", False)), _rev(out))

    def get_prefix(self, prefix: bytes, **kw: Any) -> RangeResponse:
        return self.get(prefix, prefix_end(prefix), **kw)

    def put(self, key: bytes, value: bytes, *, lease: int = 0, prev_kv: bool = False,
            endpoint: str | None = None) -> WriteResponse:
        body = op_put(key, value, lease, prev_kv)["request_put"]
        out = self.call("/v3/kv/put", body, write=True, endpoint=endpoint)
        prev = [kv_from_json(out["prev_kv"])] if "prev_kv" in out else []
        return WriteResponse(_rev(out), prev)

    def delete(self, key: bytes, range_end: bytes = b"", *, prev_kv: bool = False,
               endpoint: str | None = None) -> WriteResponse:
        body = op_delete(key, range_end)["request_delete_range"]
        if prev_kv:
            body["prev_kv"] = True
        out = self.call("/v3/kv/deleterange", body, write=True, endpoint=endpoint)
        return WriteResponse(_rev(out), [kv_from_json(k) for k in out.get("prev_kvs", [])],
                             int(out.get("deleted", 0)))

    def txn(self, compares: list[Json], success: list[Json], failure: list[Json] | None = None,
            endpoint: str | None = None) -> TxnResponse:
        body = {"compare": compares, "success": success, "failure": failure or []}
        out = self.call("/v3/kv/txn", body, write=True, endpoint=endpoint)
        return TxnResponse(bool(out.get("succeeded", False)), _rev(out), out.get("responses", []))

    def compact(self, revision: int) -> int:
        return _rev(self.call("/v3/kv/compaction", {"revision": str(revision)}, write=True))

    # ---- leases -------------------------------------------------------------------
    def lease_grant(self, ttl: int, lease_id: int = 0) -> int:
        body: Json = {"TTL": str(ttl)}
        if lease_id:
            body["ID"] = str(lease_id)
        return int(self.call("/v3/lease/grant", body, write=True)["ID"])

    def lease_revoke(self, lease_id: int) -> None:
        self.call("/v3/lease/revoke", {"ID": str(lease_id)}, write=True)

    def lease_keepalive(self, lease_id: int) -> int:
        out = self.call("/v3/lease/keepalive", {"ID": str(lease_id)}, write=True)
        return int(out.get("result", out).get("TTL", 0))

    def lease_timetolive(self, lease_id: int, keys: bool = False) -> Json:
        out = self.call("/v3/lease/timetolive", {"ID": str(lease_id), "keys": keys})
        return {"id": int(out.get("ID", lease_id)), "ttl": int(out.get("TTL", -1)),
                "granted_ttl": int(out.get("grantedTTL", 0)),
                "keys": [kv_from_json({"key": k}).key for k in out.get("keys", [])]}

    # ---- cluster ------------------------------------------------------------------
    def status(self, endpoint: str) -> Json:
        """One member's status (no failover: the question is about that member)."""
        out = self.call("/v3/maintenance/status", {}, endpoint=_url(endpoint))
        header = out.get("header", {})
        return {"endpoint": endpoint, "member_id": int(header.get("member_id", 0)),
                "leader": int(out.get("leader", 0)), "term": int(out.get("raftTerm", 0)),
                "revision": int(header.get("revision", 0)), "raft_index": int(out.get("raftIndex", 0)),
                "applied_index": int(out.get("raftAppliedIndex") or out.get("raftIndex") or 0),
                "db_size": int(out.get("dbSize", 0)), "version": out.get("version", ""),
                "first_index": int(out.get("raftFirstIndex", 0)),
                "errors": out.get("errors", [])}

    def hashkv(self, endpoint: str) -> Json:
        out = self.call("/v3/maintenance/hashkv", {}, endpoint=_url(endpoint))
        return {"revision": _rev(out), "hash": int(out.get("hash", 0))}

    def member_list(self) -> list[Json]:
        return [_member(m) for m in self.call("/v3/cluster/member/list", {}).get("members", [])]

    def member_add(self, peer: str, name: str | None = None, client: str | None = None) -> Json:
        body: Json = {"peerURLs": [_url(peer)]}
        if name:
            body["name"] = name
        if client:
            body["clientURLs"] = [_url(client)]
        return _member(self.call("/v3/cluster/member/add", body, write=True, timeout=15)["member"])

    def member_remove(self, member_id: int) -> None:
        self.call("/v3/cluster/member/remove", {"ID": str(member_id)}, write=True, timeout=15)

    # ---- watch --------------------------------------------------------------------
    def watch(self, key: bytes, range_end: bytes = b"", *, start_revision: int = 0,
              prev_kv: bool = False, deadline: float | None = None) -> Generator[WatchEvent, None, None]:
        """Yield events on the range from `start_revision` on, resuming across failures.

        Stops at `deadline` (a time.monotonic() value) if given.  Raises CompactedError if
        the start revision (or the resume point) has been compacted away.
        """
        nxt = start_revision
        failures = 0
        while deadline is None or time.monotonic() < deadline:
            base = self.endpoints[self._current % len(self.endpoints)]
            create: Json = {"key": b64e(key)}
            if range_end:
                create["range_end"] = b64e(range_end)
            if nxt:
                create["start_revision"] = str(nxt)
            if prev_kv:
                create["prev_kv"] = True
            try:
                for item in self._watch_stream(base, create, deadline):
                    failures = 0
                    if isinstance(item, int):
                        # "created": a watch from "now" is pinned to that revision, so a
                        # failover before the first event resumes without a gap.
                        nxt = nxt or item + 1
                        continue
                    nxt = item.revision + 1
                    yield item
                if deadline is not None and time.monotonic() >= deadline:
                    return
                # The member closed the stream (it is stopping): resume on the next one.
                self._current += 1
            except (httpx.HTTPError, ValueError, e.Unavailable):
                failures += 1
                self._current += 1
                time.sleep(min(0.5, 0.05 * failures))

    def _watch_stream(self, base: str, create: Json,
                      deadline: float | None) -> Iterator[WatchEvent | int]:
        """Events of one watch connection; an int is the header revision at creation."""
        # Skiff sends a progress notification every 5 s on a quiet watch; silence for
        # WATCH_SILENCE means a dead link or member, so fail over and resume.  (A real
        # etcd stays silent on quiet watches: the watch then just reconnects.)
        read_timeout = WATCH_SILENCE if deadline is None else max(
            0.1, min(WATCH_SILENCE, deadline - time.monotonic()))
        timeout = httpx.Timeout(self.attempt_timeout, read=read_timeout)
        with self._http.stream("POST", base + "/v3/watch", json={"create_request": create},
                               timeout=timeout) as resp:
            if resp.status_code != 200:
                resp.read()
                raise _error_from(resp)
            for raw in resp.iter_lines():
                if not raw.strip():
                    continue
                result = json.loads(raw).get("result", {})
                if result.get("created"):
                    yield int(result.get("header", {}).get("revision", 0))
                if result.get("canceled"):
                    rev = int(result.get("compact_revision", 0))
                    if rev:
                        raise e.CompactedError(compact_revision=rev)
                    raise e.Unavailable(result.get("cancel_reason", "watch canceled"))
                for ev in result.get("events", []):
                    yield WatchEvent(ev.get("type", "PUT"), kv_from_json(ev["kv"]),
                                     kv_from_json(ev["prev_kv"]) if "prev_kv" in ev else None)
                if deadline is not None and time.monotonic() >= deadline:
                    return


def _rev(out: Json) -> int:
    return int(out.get("header", {}).get("revision", 0))


def _member(m: Json) -> Json:
    return {"id": int(m.get("ID", 0)), "name": m.get("name", ""),
            "peer_urls": m.get("peerURLs", []), "client_urls": m.get("clientURLs", [])}


def _error_from(resp: httpx.Response) -> e.StoreError:
    try:
        body = resp.json()
        message = body.get("message") or body.get("error") or resp.text
        code = int(body.get("code", 0)) or _code_for(resp.status_code)
    except (ValueError, AttributeError):
        message, code = resp.text[:200] or f"HTTP {resp.status_code}", _code_for(resp.status_code)
    return e.StoreError.from_code(code, str(message))


def _code_for(status: int) -> int:
    return {400: e.INVALID_ARGUMENT, 404: e.NOT_FOUND, 409: e.ALREADY_EXISTS, 413: e.INVALID_ARGUMENT,
            429: e.RESOURCE_EXHAUSTED, 503: e.UNAVAILABLE, 504: e.DEADLINE_EXCEEDED}.get(status, e.INTERNAL)
