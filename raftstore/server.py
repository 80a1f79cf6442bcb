"""The member's client API: etcd v3's JSON gateway paths on uvicorn (see `asgi.py`).

Every handler: read the body with a size cap, decode strictly (400 naming the field),
run through `MemberService`, encode etcd-shaped JSON.  Errors become etcd gateway error
bodies `{"error", "message", "code"}`; an unexpected exception is logged and answered
500 without a traceback, and never stops the member.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from raftstore import codec
from raftstore import errors as e
from raftstore.asgi import App, JSONResponse, Request, Response, StreamingResponse
from raftstore.config import CLUSTER_ID, MemberConfig, member_id, parse_addr
from raftstore.gateway import (
    check_size,
    error_response,
    line,
    member_json,
    read_json,
    request_id,
    strip_scheme,
)
from raftstore.metrics import MemberCollector
from raftstore.mvcc import Event
from raftstore.service import MemberService
from raftstore.state import KVState

log = logging.getLogger(__name__)
Json = dict[str, Any]
# base64 inflates 4/3; leave room for JSON syntax around the largest allowed value.
VERSION = "3.4.0"  # the etcd API level served
PROGRESS_EVERY = 5.0  # seconds of quiet between watch progress notifications
MIN_LEASE_TTL = 2  # seconds; > 3 x the default election timeout
Handler = Callable[[Any, Request], Awaitable[Json]]


class Api:
    """Handlers bound to one member service."""

    def __init__(self, cfg: MemberConfig) -> None:
        self.cfg = cfg
        self.svc: MemberService | None = None
        self.registry = CollectorRegistry()
        self.requests = Counter("skiff_store_requests", "Client requests", ["path", "code"],
                                registry=self.registry)
        self.registry.register(MemberCollector(lambda: self.svc))

    @property
    def service(self) -> MemberService:
        if self.svc is None:
            raise e.Unavailable("member is starting")
        return self.svc

    # ---- plumbing -----------------------------------------------------------------
    def header(self, revision: int | None = None) -> Json:
        svc = self.service
        if revision is None:
            revision = svc.member.read(lambda s: s.kv.revision)
        return {"cluster_id": str(CLUSTER_ID), "member_id": str(self.cfg.id), "revision": str(revision),
                "raft_term": str(svc.member.raft_status()["term"])}

    def endpoint(self, fn: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                body = await read_json(request)
                out = await fn(body, request)
                code = 200
                resp: Response = JSONResponse(out)
            except e.StoreError as err:
                code = err.http_status
                resp = error_response(err)
            except Exception:
                log.exception("unexpected error serving %s", request.path)
                code = 500
                resp = error_response(e.StoreError("internal server error (see the member's log)"))
            self.requests.labels(request.path, str(code)).inc()
            return resp

        return handle

    # ---- kv -----------------------------------------------------------------------
    async def range(self, body: Any, _: Request) -> Json:
        cmd = codec.decode_range(body)
        res = await self.service.read(cmd, cmd["serializable"])
        return {"header": self.header(res["revision"]), **codec.encode_range(res)}

    async def put(self, body: Any, req: Request) -> Json:
        cmd = check_size(codec.decode_put(body))
        res = await self.service.write(cmd, request_id(req))
        return {"header": self.header(res["revision"]), **codec.encode_put(res)}

    async def delete_range(self, body: Any, req: Request) -> Json:
        cmd = check_size(codec.decode_delete(body))
        res = await self.service.write(cmd, request_id(req))
        return {"header": self.header(res["revision"]), **codec.encode_delete(res)}

    async def txn(self, body: Any, req: Request) -> Json:
        cmd = check_size(codec.decode_txn(body))
        res = await self.service.write(cmd, request_id(req))
        return {"header": self.header(res["revision"]), **codec.encode_txn(res)}

    async def compaction(self, body: Any, req: Request) -> Json:
        b = codec.obj(body, {"revision", "physical"}, "compaction")
        rev = codec.as_int(b.get("revision", 0), "revision")
        res = await self.service.write({"op": "compact", "revision": rev}, request_id(req))
        return {"header": self.header(res["revision"])}

    # ---- leases -------------------------------------------------------------------
    async def lease_grant(self, body: Any, req: Request) -> Json:
        b = codec.obj(body, {"TTL", "ID"}, "lease grant")
        ttl = codec.as_int(b.get("TTL", 0), "TTL")
        # As etcd, a TTL shorter than an election could end during one: raise it.
        if 0 < ttl < MIN_LEASE_TTL:
            ttl = MIN_LEASE_TTL
        cmd = {"op": "lease_grant", "ttl": ttl,
               "id": codec.as_int(b.get("ID", 0), "ID"), "now": time.time()}
        res = await self.service.write(cmd, request_id(req))
        return {"header": self.header(res["revision"]), "ID": str(res["id"]), "TTL": str(res["ttl"])}

    async def lease_revoke(self, body: Any, req: Request) -> Json:
        b = codec.obj(body, {"ID"}, "lease revoke")
        res = await self.service.write({"op": "lease_revoke", "id": codec.as_int(b.get("ID", 0), "ID")},
                                       request_id(req))
        return {"header": self.header(res["revision"])}

    async def lease_keepalive(self, body: Any, req: Request) -> Json:
        b = codec.obj(body, {"ID"}, "lease keepalive")
        cmd = {"op": "lease_keepalive", "id": codec.as_int(b.get("ID", 0), "ID"), "now": time.time()}
        res = await self.service.write(cmd, request_id(req))
        return {"result": {"header": self.header(res["revision"]), "ID": str(res["id"]),
                           "TTL": str(res["ttl"])}}

    async def lease_timetolive(self, body: Any, _: Request) -> Json:
        b = codec.obj(body, {"ID", "keys"}, "lease timetolive")
        lease_id = codec.as_int(b.get("ID", 0), "ID")
        keys = codec.as_bool(b.get("keys", False), "keys")
        await self.service.barrier()
        now = time.time()
        info = self.service.member.read(lambda s: s.lease_info(lease_id, now, keys))
        out: Json = {"header": self.header(), "ID": str(lease_id), "TTL": str(info["ttl"])}
        if info["granted_ttl"]:
            out["grantedTTL"] = str(info["granted_ttl"])
        if info["keys"]:
            out["keys"] = [codec.b64e(k) for k in info["keys"]]
        return out

    async def lease_leases(self, body: Any, _: Request) -> Json:
        codec.obj(body, set(), "lease leases")
        await self.service.barrier()
        ids = self.service.member.read(lambda s: s.lease_list())
        return {"header": self.header(), "leases": [{"ID": str(i)} for i in ids]}

    # ---- maintenance and cluster --------------------------------------------------
    async def status(self, body: Any, _: Request) -> Json:
        codec.obj(body, set(), "status")
        svc = self.service
        raft = svc.member.raft_status()
        out: Json = {"header": self.header(), "version": VERSION, "dbSize": str(svc.member.data_size()),
                     "leader": str(svc.leader_id()), "raftIndex": str(raft["commit_index"]),
                     "raftTerm": str(raft["term"]), "raftAppliedIndex": str(raft["applied_index"]),
                     # Not in etcd: the oldest entry still in the log (older ones are in the
                     # snapshot), so operators and tests can see compaction happen.
                     "raftFirstIndex": str(raft["first_index"])}
        if raft["leader_peer"] is None:
            out["errors"] = [e.MSG_NO_LEADER]
        return out

    async def hashkv(self, body: Any, _: Request) -> Json:
        codec.obj(body, {"revision"}, "hashkv")
        await self.service.barrier()
        rev, crc, compact = self.service.member.read(
            lambda s: (s.kv.revision, s.content_hash(), s.kv.compact_revision))
        return {"header": self.header(rev), "hash": str(crc), "compact_revision": str(compact)}

    async def member_list(self, body: Any, _: Request) -> Json:
        codec.obj(body, {"linearizable"}, "member list")
        return {"header": self.header(), "members": [member_json(m) for m in self.service.members()]}

    async def member_add(self, body: Any, req: Request) -> Json:
        b = codec.obj(body, {"peerURLs", "isLearner", "name", "clientURLs"}, "member add")
        urls = b.get("peerURLs")
        if not isinstance(urls, list) or len(urls) != 1 or not isinstance(urls[0], str):
            raise e.InvalidArgument("member add: peerURLs must hold exactly one URL")
        if b.get("isLearner"):
            raise e.StoreError("member add: learners are not supported", e.UNIMPLEMENTED)
        peer = strip_scheme(urls[0])
        parse_addr(peer, "peerURLs[0]")
        name = str(b.get("name") or peer)
        clients = b.get("clientURLs") or [""]
        if any(m["peer"] == peer for m in self.service.members()):
            raise e.StoreError("etcdserver: peerURL exists", e.FAILED_PRECONDITION)
        await self.service.change_membership("add", peer)
        await self.service.write({"op": "member_register", "name": name, "peer": peer,
                                  "client": strip_scheme(str(clients[0]))}, request_id(req))
        added = {"id": member_id(name), "name": name, "peer": peer, "client": strip_scheme(str(clients[0]))}
        return {"header": self.header(), "member": member_json(added),
                "members": [member_json(m) for m in self.service.members()]}

    async def member_remove(self, body: Any, req: Request) -> Json:
        b = codec.obj(body, {"ID"}, "member remove")
        target = codec.as_int(b.get("ID", 0), "ID")
        found = [m for m in self.service.members() if m["id"] == target]
        if not found:
            raise e.NotFound("etcdserver: member not found")
        await self.service.change_membership("remove", found[0]["peer"])
        await self.service.write({"op": "member_remove", "name": found[0]["name"]}, request_id(req))
        return {"header": self.header(), "members": [member_json(m) for m in self.service.members()]}

    # ---- watch --------------------------------------------------------------------
    async def watch(self, request: Request) -> Response:
        try:
            body = await read_json(request)
            b = codec.obj(body, {"create_request"}, "watch")
            create = codec.obj(b.get("create_request"), {
                "key", "range_end", "start_revision", "prev_kv", "progress_notify", "watch_id",
                "filters", "fragment"}, "watch.create_request")
            key = codec.b64d(create.get("key", ""), "key")
            range_end = codec.b64d(create.get("range_end", ""), "range_end")
            start = codec.as_int(create.get("start_revision", 0), "start_revision")
            prev_kv = codec.as_bool(create.get("prev_kv", False), "prev_kv")
            if create.get("filters") or create.get("fragment"):
                raise e.StoreError("watch: filters and fragment are not supported", e.UNIMPLEMENTED)
            svc = self.service
        except e.StoreError as err:
            return error_response(err)
        return StreamingResponse(self._watch_stream(svc, request, key, range_end, start, prev_kv))

    async def _watch_stream(self, svc: MemberService, request: Request, key: bytes, range_end: bytes,
                            start: int, prev_kv: bool) -> AsyncIterator[bytes]:
        """Events from `start` on, each revision exactly once and whole, in order."""
        nxt = start or svc.member.read(lambda s: s.kv.revision) + 1
        # The header names the revision the watch starts after, so a client that fails
        # over before the first event can resume from exactly there.
        yield line({"result": {"header": self.header(nxt - 1), "watch_id": "0", "created": True}})
        quiet_since = time.monotonic()
        while True:
            try:
                events, current = svc.member.read(partial(_events_since, nxt, key, range_end))
            except e.CompactedError as err:
                yield line({"result": {"header": self.header(), "watch_id": "0", "canceled": True,
                                       "compact_revision": str(err.compact_revision),
                                       "cancel_reason": e.MSG_COMPACTED}})
                return
            if events:
                last = events[-1].kv.mod_revision
                yield line({"result": {"header": self.header(last), "watch_id": "0",
                                       "events": [codec.event_json(ev, prev_kv) for ev in events]}})
                nxt = last + 1
                quiet_since = time.monotonic()
                continue
            # Read under the same lock as the events: nothing up to `current` matched.
            nxt = max(nxt, current + 1)
            if time.monotonic() - quiet_since >= PROGRESS_EVERY:
                # A progress notification (etcd's shape: a header, no events) lets the
                # client tell a quiet watch from a dead link.
                yield line({"result": {"header": self.header(current), "watch_id": "0"}})
                quiet_since = time.monotonic()
            await svc.wait_applied(1.0)
            if await request.is_disconnected():
                return

    async def metrics(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def health(self, request: Request) -> Response:
        ok = self.svc is not None and self.svc.member.raft_status()["leader_peer"] is not None
        return JSONResponse({"health": "true" if ok else "false"}, status_code=200 if ok else 503)


def _events_since(start: int, key: bytes, range_end: bytes, s: KVState) -> tuple[list[Event], int]:
    return s.kv.events_from(start, key, range_end), s.kv.revision


def build_app(cfg: MemberConfig) -> App:
    """The ASGI app of one member; the Raft member starts and stops with the app."""
    api = Api(cfg)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        api.svc = MemberService(cfg)
        api.svc.start()
        try:
            yield
        finally:
            await api.svc.stop()

    post = {
        "/v3/kv/range": api.range, "/v3/kv/put": api.put, "/v3/kv/deleterange": api.delete_range,
        "/v3/kv/txn": api.txn, "/v3/kv/compaction": api.compaction,
        "/v3/lease/grant": api.lease_grant, "/v3/lease/revoke": api.lease_revoke,
        "/v3/kv/lease/revoke": api.lease_revoke, "/v3/lease/keepalive": api.lease_keepalive,
        "/v3/lease/timetolive": api.lease_timetolive, "/v3/kv/lease/timetolive": api.lease_timetolive,
        "/v3/lease/leases": api.lease_leases, "/v3/kv/lease/leases": api.lease_leases,
        "/v3/maintenance/status": api.status, "/v3/maintenance/hash": api.hashkv,
        "/v3/maintenance/hashkv": api.hashkv,
        "/v3/cluster/member/list": api.member_list, "/v3/cluster/member/add": api.member_add,
        "/v3/cluster/member/remove": api.member_remove,
    }
    routes = {path: ("POST", api.endpoint(fn)) for path, fn in post.items()}
    routes["/v3/watch"] = ("POST", api.watch)
    routes["/metrics"] = ("GET", api.metrics)
    routes["/health"] = ("GET", api.health)
    return App(routes, lifespan)


async def serve(cfg: MemberConfig) -> None:
    """Run one member until SIGINT/SIGTERM (uvicorn handles the signals)."""
    import uvicorn

    host, port = parse_addr(cfg.client_addr, "--client-addr")
    config = uvicorn.Config(build_app(cfg), host=host, port=port, log_level="warning",
                            access_log=False, http="httptools", lifespan="on",
                            timeout_graceful_shutdown=2)
    await uvicorn.Server(config).serve()


def run(cfg: MemberConfig) -> None:
    import uvloop

    # The Raft tick thread and the event loop share the GIL; the default 5 ms switch
    # interval would let one hold the other up for that long on every hand-off.
    sys.setswitchinterval(0.0005)
    uvloop.run(serve(cfg))
