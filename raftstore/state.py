"""The replicated state machine: commands in, results out, pure and deterministic.

Contract:
- `apply(cmd)` never raises; a failed command returns `{"error": {...}}` and changes
  nothing (commands are validated before the first write).
- No clock, randomness or I/O: times arrive inside commands (`now`), IDs are counters.
- Commands carrying a request id (`rid`) are applied at most once: a retry of an already
  applied command returns the first result (pysyncobj reports leader changes and
  timeouts as failures although the command may have been applied).
- Reads (`read_range`, `events_from`, ...) do not change state; the caller holds the
  lock that serialises them with `apply`.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from typing import Any

from raftstore import errors as e
from raftstore import txn
from raftstore.fields import need_bytes, need_int, need_time
from raftstore.leases import MAX_TTL, LeaseTable
from raftstore.mvcc import KeySpace, KeyValue, RangeResult

MAX_RESPONSES = 50_000

Cmd = dict[str, Any]
Result = dict[str, Any]


class KVState:
    """Keys, leases, members and the request-id cache of one replica."""

    def __init__(self, max_history: int = 100_000) -> None:
        self.kv = KeySpace(max_history)
        self.leases = LeaseTable()
        self.members: dict[str, dict[str, str]] = {}
        self.responses: OrderedDict[str, Result] = OrderedDict()

    # ---- entry point --------------------------------------------------------------
    def apply(self, cmd: Cmd) -> Result:
        try:
            rid = cmd.get("rid")
            hash(rid)
        except Exception:  # not a mapping, or an unhashable request id
            result = e.InvalidArgument("malformed command: expected a mapping with a hashable rid").to_dict()
            result["revision"] = self.kv.revision
            return result
        if cmd.get("op") == "batch":
            return self._apply_batch(cmd.get("cmds"))
        if rid is not None and rid in self.responses:
            return self.responses[rid]
        try:
            result = self._dispatch(cmd)
        except e.StoreError as err:
            result = err.to_dict()
        except Exception as err:  # a raise would wedge every replica
            result = e.StoreError(f"internal error applying {cmd.get('op')!r}: {err!r}").to_dict()
        result.setdefault("revision", self.kv.revision)
        if rid is not None and cmd.get("op") not in ("barrier", "range"):
            self.responses[rid] = result
            while len(self.responses) > MAX_RESPONSES:
                self.responses.popitem(last=False)
        return result

    def _apply_batch(self, cmds: Any) -> Result:
        """Apply the commands of one Raft entry in order, each as if proposed alone.

        Members group concurrent client requests into one entry (one log write, one
        message, one apply) but each command keeps its own request id and revision.
        """
        if not isinstance(cmds, list):
            return {**e.InvalidArgument("batch: 'cmds' must be a list").to_dict(),
                    "revision": self.kv.revision}
        results = []
        for cmd in cmds:
            if not isinstance(cmd, dict) or cmd.get("op") == "batch":
                results.append({**e.InvalidArgument("batch: each command must be a plain command").to_dict(),
                                "revision": self.kv.revision})
            else:
                results.append(self.apply(cmd))
        return {"results": results, "revision": self.kv.revision}

    def _dispatch(self, cmd: Cmd) -> Result:
        op = cmd.get("op")
        handler = _HANDLERS.get(op) if isinstance(op, str) else None
        if handler is None:
            raise e.InvalidArgument(f"unknown command {op!r}")
        return handler(self, cmd)

    # ---- kv -----------------------------------------------------------------------
    def read_range(self, cmd: Cmd) -> Result:
        res: RangeResult = self.kv.range(cmd["key"], cmd.get("range_end", b""),
                                         cmd.get("revision", 0), cmd.get("limit", 0))
        kvs = res.kvs
        if cmd.get("keys_only"):
            kvs = [KeyValue(kv.key, b"", kv.create_revision, kv.mod_revision, kv.version, kv.lease)
                   for kv in kvs]
        if cmd.get("count_only"):
            kvs = []
        return {"kvs": kvs, "count": res.count, "more": res.more, "revision": self.kv.revision}

    def _op_range(self, cmd: Cmd) -> Result:
        self._check_range(cmd)
        return self.read_range(cmd)

    def _check_range(self, cmd: Cmd) -> None:
        need_bytes(cmd, "key", required=True)
        need_bytes(cmd, "range_end")
        need_int(cmd, "limit")
        self.kv.check_revision(need_int(cmd, "revision"))

    def _op_put(self, cmd: Cmd) -> Result:
        self._check_put(cmd)
        self.kv.begin()
        try:
            return self._put(cmd)
        finally:
            self.kv.end()

    def _check_put(self, cmd: Cmd) -> None:
        if not need_bytes(cmd, "key"):
            raise e.InvalidArgument(e.MSG_KEY_EMPTY)
        need_bytes(cmd, "value", required=True)
        lease = need_int(cmd, "lease")
        if lease and self.leases.get(lease) is None:
            raise e.NotFound(e.MSG_LEASE_NOT_FOUND)

    def _put(self, cmd: Cmd) -> Result:
        key, lease = cmd["key"], cmd.get("lease", 0)
        _, prev = self.kv.put(key, cmd["value"], lease)
        if prev is not None and prev.lease != lease:
            self.leases.detach(prev.lease, key)
        self.leases.attach(lease, key)
        out: Result = {}
        if cmd.get("prev_kv") and prev is not None:
            out["prev_kv"] = prev
        return out

    def _op_delete(self, cmd: Cmd) -> Result:
        txn.check_delete(cmd)
        self.kv.begin()
        try:
            return self._delete(cmd)
        finally:
            self.kv.end()

    def _delete(self, cmd: Cmd) -> Result:
        prevs = []
        for key in self.kv.select(cmd["key"], cmd.get("range_end", b"")):
            prev = self.kv.delete(key)
            if prev is not None:
                self.leases.detach(prev.lease, key)
                prevs.append(prev)
        out: Result = {"deleted": len(prevs)}
        if cmd.get("prev_kv"):
            out["prev_kvs"] = prevs
        return out

    # ---- txn (validation and compares: txn.py) --------------------------------------
    def _op_txn(self, cmd: Cmd) -> Result:
        txn.check(cmd, self._check_put, self._check_range)
        self.kv.begin()
        try:
            return self._txn(cmd)
        finally:
            self.kv.end()

    def _txn(self, cmd: Cmd) -> Result:
        ok = all(txn.compare(self.kv, c) for c in cmd.get("compare", []))
        responses = [self._txn_op(op) for op in cmd.get("success" if ok else "failure", [])]
        return {"succeeded": ok, "responses": responses}

    def _txn_op(self, op: Cmd) -> Result:
        kind = op["op"]
        if kind == "range":
            return {"range": self.read_range(op)}
        if kind == "put":
            return {"put": self._put(op)}
        if kind == "delete":
            return {"delete": self._delete(op)}
        if kind == "txn":
            return {"txn": self._txn(op)}
        raise e.InvalidArgument(f"unknown txn operation {kind!r}")

    # ---- compaction ---------------------------------------------------------------
    def _op_compact(self, cmd: Cmd) -> Result:
        rev = need_int(cmd, "revision", required=True)
        if rev < self.kv.compact_revision:
            raise e.CompactedError()
        if rev > self.kv.revision:
            raise e.FutureRevision(e.MSG_FUTURE_REV)
        self.kv.compact(rev)
        return {}

    # ---- leases -------------------------------------------------------------------
    def _op_lease_grant(self, cmd: Cmd) -> Result:
        ttl = need_int(cmd, "ttl", required=True)
        if ttl <= 0 or ttl > MAX_TTL:
            raise e.InvalidArgument("etcdserver: too large lease TTL" if ttl > 0
                                    else "lease TTL must be positive")
        now = need_time(cmd, "now")  # validated before new_id() draws an ID
        lease_id = need_int(cmd, "id") or self.leases.new_id()
        if self.leases.get(lease_id) is not None:
            raise e.AlreadyExists(e.MSG_LEASE_EXISTS)
        lease = self.leases.grant(lease_id, ttl, now)
        return {"id": lease.id, "ttl": lease.ttl}

    def _op_lease_revoke(self, cmd: Cmd) -> Result:
        if self.leases.get(cmd["id"]) is None:
            raise e.NotFound(e.MSG_LEASE_NOT_FOUND)
        self._revoke(cmd["id"])
        return {}

    def _revoke(self, lease_id: int) -> None:
        lease = self.leases.remove(lease_id)
        if lease is None:
            return
        self.kv.begin()
        try:
            for key in sorted(lease.keys):
                self.kv.delete(key)
        finally:
            self.kv.end()

    def _op_lease_keepalive(self, cmd: Cmd) -> Result:
        lease = self.leases.get(cmd["id"])
        now = need_time(cmd, "now")
        # As etcd: a lease past its expiry is gone even before the leader revokes it.
        if lease is None or lease.expiry <= now:
            raise e.NotFound(e.MSG_LEASE_NOT_FOUND)
        # Never move an expiry backwards (a late keepalive stamped by a slow clock).
        lease.expiry = max(lease.expiry, now + lease.ttl)
        return {"id": lease.id, "ttl": lease.ttl}

    def _op_lease_expire(self, cmd: Cmd) -> Result:
        expired = self.leases.expired(need_time(cmd, "now"))
        for lease_id in expired:
            self._revoke(lease_id)
        return {"expired": expired}

    def _op_lease_promote(self, cmd: Cmd) -> Result:
        self.leases.promote(need_time(cmd, "now"), need_time(cmd, "extend"))
        return {}

    def lease_info(self, lease_id: int, now: float, keys: bool) -> Result:
        lease = self.leases.get(lease_id)
        if lease is None:
            return {"id": lease_id, "ttl": -1, "granted_ttl": 0, "keys": []}
        return {"id": lease_id, "ttl": LeaseTable.remaining(lease, now), "granted_ttl": lease.ttl,
                "keys": sorted(lease.keys) if keys else []}

    def lease_list(self) -> list[int]:
        return sorted(self.leases.leases)

    # ---- cluster bookkeeping ------------------------------------------------------
    def _op_barrier(self, cmd: Cmd) -> Result:
        return {}

    def _op_member_register(self, cmd: Cmd) -> Result:
        self.members[cmd["name"]] = {"peer": cmd["peer"], "client": cmd["client"]}
        return {}

    def _op_member_remove(self, cmd: Cmd) -> Result:
        self.members.pop(cmd["name"], None)
        return {}

    def content_hash(self) -> int:
        """A hash of keys and values that is equal on replicas with equal content (etcd's HashKV)."""
        crc = 0
        for kv in self.kv.content_items():
            for part in (kv.key, kv.value, str((kv.create_revision, kv.mod_revision,
                                                  kv.version, kv.lease)).encode()):
                crc = zlib.crc32(part, crc)
        return crc


_HANDLERS = {
    "range": KVState._op_range,
    "put": KVState._op_put,
    "delete": KVState._op_delete,
    "txn": KVState._op_txn,
    "compact": KVState._op_compact,
    "lease_grant": KVState._op_lease_grant,
    "lease_revoke": KVState._op_lease_revoke,
    "lease_keepalive": KVState._op_lease_keepalive,
    "lease_expire": KVState._op_lease_expire,
    "lease_promote": KVState._op_lease_promote,
    "barrier": KVState._op_barrier,
    "member_register": KVState._op_member_register,
    "member_remove": KVState._op_member_remove,
}
