"""Objects in the store: JSON values under `/registry/...`, resourceVersion = mod revision.

This is the API server's boundary to the store: every `StoreError` becomes an `ApiError`
here (`errors.from_store`), so nothing above sees a store error.  Every write is a
single store txn guarded by a compare, so concurrent API servers
(one per master) never lose an update: create requires the key to be absent, update
requires the mod revision the client read (409 otherwise), delete likewise if asked.
Thread-safe (the store client is).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from control_plane.api.objects import Obj
from control_plane.api.resources import Resource
from control_plane.apiserver import keys
from control_plane.apiserver.errors import already_exists, conflict, from_store, not_found
from raftstore import errors as store_errors
from raftstore.client import StoreClient, prefix_end
from raftstore.client import WatchEvent as KeyEvent
from raftstore.codec import kv_from_json
from raftstore.mvcc import KeyValue
from raftstore.txnops import compare, op_delete, op_get, op_put


@dataclass
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj
    revision: int


def decode(kv: KeyValue) -> Obj:
    """The stored object with its resourceVersion filled in from the store."""
    obj: Obj = json.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
    return obj


def encode(obj: Obj) -> bytes:
    meta = obj.get("metadata", {})
    stored = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return json.dumps(stored, separators=(",", ":"), sort_keys=True).encode()


class ObjectStore:
    def __init__(self, client: StoreClient) -> None:
        self.client = client

    def get(self, res: Resource, ns: str | None, name: str, serializable: bool = False) -> Obj:
        """The object; `serializable` reads the local member (maybe stale: only for a
        read that a compare-and-set will check anyway).  A local read that finds nothing
        is asked again of the leader before answering 404: the member may not have
        applied the create yet (seen: a pod bound right after its creation got 404 and
        the scheduler dropped it)."""
        try:
            found = self.client.get(keys.key(res, ns, name), serializable=serializable)
            if not found.kvs and serializable:
                found = self.client.get(keys.key(res, ns, name))
        except store_errors.StoreError as err:
            raise from_store(err) from None
        if not found.kvs:
            raise not_found(res.plural, name)
        return decode(found.kvs[0])

    def list_objects(self, res: Resource, ns: str | None, revision: int = 0) -> tuple[list[Obj], int]:
        """Objects (of one namespace or all) and the store revision they reflect."""
        prefix = keys.prefix(res, ns)
        try:
            found = self.client.get(prefix, prefix_end(prefix), revision=revision)
        except store_errors.StoreError as err:
            raise from_store(err) from None
        return [decode(kv) for kv in found.kvs], found.revision

    def create(self, res: Resource, ns: str | None, obj: Obj, parent: bytes | None = None) -> Obj:
        """Store a new object; with `parent` (its namespace's key), only if that exists,
        checked in the same transaction (one round trip, and no race with its deletion)."""
        key = keys.key(res, ns, obj["metadata"]["name"])
        compares = [compare(key, "version", "=", 0)]
        if parent is not None:
            compares.append(compare(parent, "version", ">", 0))
        txn = self._txn(compares, [op_put(key, encode(obj))], [op_get(parent)] if parent else [])
        if not txn.succeeded:
            if parent is not None and not txn.responses[0]["response_range"].get("kvs"):
                raise not_found("namespaces", parent.rsplit(b"/", 1)[-1].decode())
            raise already_exists(res.plural, obj["metadata"]["name"])
        obj["metadata"]["resourceVersion"] = str(txn.revision)
        return obj

    def update(self, res: Resource, ns: str | None, obj: Obj, expect: int | None) -> Obj:
        """Replace the object; `expect` is the mod revision it must still have (None: any)."""
        name = obj["metadata"]["name"]
        key = keys.key(res, ns, name)
        guard = compare(key, "mod", "=", expect) if expect else compare(key, "version", ">", 0)
        txn = self._txn([guard], [op_put(key, encode(obj))], [op_get(key)])
        if not txn.succeeded:
            if not txn.responses[0]["response_range"].get("kvs"):
                raise not_found(res.plural, name)
            raise conflict(res.plural, name)
        obj["metadata"]["resourceVersion"] = str(txn.revision)
        return obj

    def delete(self, res: Resource, ns: str | None, name: str, expect: int | None = None) -> Obj:
        """Remove the object and return its last state."""
        key = keys.key(res, ns, name)
        guard = compare(key, "mod", "=", expect) if expect else compare(key, "version", ">", 0)
        txn = self._txn([guard], [op_get(key), op_delete(key)], [op_get(key)])
        kvs = txn.responses[0]["response_range"].get("kvs", [])
        if not kvs:
            raise not_found(res.plural, name)
        if not txn.succeeded:
            raise conflict(res.plural, name)
        return decode(kv_from_json(kvs[0]))

    def check_revision(self, res: Resource, ns: str | None, revision: int) -> None:
        """Raise 410 Gone if history at `revision` is no longer kept."""
        prefix = keys.prefix(res, ns)
        try:
            self.client.get(prefix, prefix_end(prefix), revision=revision, count_only=True)
        except store_errors.StoreError as err:
            raise from_store(err) from None

    def watch(self, res: Resource, ns: str | None, after: int,
              deadline: float) -> Generator[WatchEvent, None, None]:
        """Changes after revision `after`, in order, until the monotonic `deadline`."""
        prefix = keys.prefix(res, ns)
        try:
            with closing(self.client.watch(prefix, prefix_end(prefix), start_revision=after + 1,
                                           prev_kv=True, deadline=deadline)) as events:
                yield from self._events(events)
        except store_errors.StoreError as err:
            raise from_store(err) from None

    def ping(self) -> None:
        """A linearizable read: returns when the store has a quorum (else 503)."""
        try:
            self.client.get(b"/registry/health")
        except store_errors.StoreError as err:
            raise from_store(err) from None

    @staticmethod
    def _events(events: Iterator[KeyEvent]) -> Iterator[WatchEvent]:
        for ev in events:
            if ev.type == "DELETE":
                if ev.prev_kv is None:
                    continue
                obj = decode(ev.prev_kv)
                obj["metadata"]["resourceVersion"] = str(ev.revision)
                yield WatchEvent("DELETED", obj, ev.revision)
            else:
                kind = "ADDED" if ev.kv.create_revision == ev.kv.mod_revision else "MODIFIED"
                yield WatchEvent(kind, decode(ev.kv), ev.revision)

    def _txn(self, compares: list[Obj], success: list[Obj], failure: list[Obj]) -> Any:
        try:
            return self.client.txn(compares, success, failure)
        except store_errors.StoreError as err:
            raise from_store(err) from None
