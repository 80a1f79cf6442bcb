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
from raftstore.leases import MAX_TTL, LeaseTable
from raftstore.mvcc import KeySpace, KeyValue, RangeResult, in_range

MAX_TXN_OPS = 128
MAX_RESPONSES = 50_000

Cmd = dict[str, Any]
Result = dict[str, Any]

# Compare targets and results, as the etcd JSON API names them.
TARGETS = ("VERSION", "CREATE", "MOD", "VALUE", "LEASE")
RESULTS = ("EQUAL", "GREATER", "LESS", "NOT_EQUAL")


class KVState:
    """Keys, leases, members and the request-id cache of one replica."""

    def __init__(self, max_history: int = 100_000) -> None:
        self.kv = KeySpace(max_history)
        self.leases = LeaseTable()
        self.members: dict[str, dict[str, str]] = {}
        self.responses: OrderedDict[str, Result] = OrderedDict()

    # ---- entry point --------------------------------------------------------------
    def apply(self, cmd: Cmd) -> Result:
        rid = cmd.get("rid")
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
        return self.read_range(cmd)

    def _op_put(self, cmd: Cmd) -> Result:
        self._check_put(cmd)
        self.kv.begin()
        try:
            return self._put(cmd)
        finally:
            self.kv.end()

    def _check_put(self, cmd: Cmd) -> None:
        if not cmd["key"]:
            raise e.InvalidArgument(e.MSG_KEY_EMPTY)
        lease = cmd.get("lease", 0)
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
        if not cmd["key"]:
            raise e.InvalidArgument(e.MSG_KEY_EMPTY)
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

    # ---- txn ----------------------------------------------------------------------
    def _op_txn(self, cmd: Cmd) -> Result:
        self._check_txn(cmd)
        self.kv.begin()
        try:
            return self._txn(cmd)
        finally:
            self.kv.end()

    def _check_txn(self, cmd: Cmd) -> None:
        for branch in ("success", "failure"):
            ops = cmd.get(branch, [])
            if len(ops) > MAX_TXN_OPS or len(cmd.get("compare", [])) > MAX_TXN_OPS:
                raise e.InvalidArgument(e.MSG_TOO_MANY_OPS)
            put_keys: set[bytes] = set()
            for op in ops:
                kind = op["op"]
                if kind == "put":
                    self._check_put(op)
                    if op["key"] in put_keys:
                        raise e.InvalidArgument(e.MSG_DUPLICATE_KEY)
                    put_keys.add(op["key"])
                elif kind == "txn":
                    self._check_txn(op)
                elif kind == "delete" and not op["key"]:
                    raise e.InvalidArgument(e.MSG_KEY_EMPTY)
            for op in ops:
                if op["op"] == "delete" and any(
                        in_range(k, op["key"], op.get("range_end", b"")) for k in put_keys):
                    raise e.InvalidArgument(e.MSG_DUPLICATE_KEY)

    def _txn(self, cmd: Cmd) -> Result:
        ok = all(self._compare(c) for c in cmd.get("compare", []))
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

    def _compare(self, c: Cmd) -> bool:
        keys = self.kv.select(c["key"], c.get("range_end", b""))
        if not keys:
            # A missing key has version, create and mod revision 0, lease 0 and no value.
            if c["target"] == "VALUE":
                return False
            return _cmp(0, c["value"], c["result"])
        return all(_cmp(_target(self.kv.keys[k], c["target"]), c["value"], c["result"]) for k in keys)

    # ---- compaction ---------------------------------------------------------------
    def _op_compact(self, cmd: Cmd) -> Result:
        rev = cmd["revision"]
        if rev < self.kv.compact_revision:
            raise e.CompactedError()
        if rev > self.kv.revision:
            raise e.FutureRevision(e.MSG_FUTURE_REV)
        self.kv.compact(rev)
        return {}

    # ---- leases -------------------------------------------------------------------
    def _op_lease_grant(self, cmd: Cmd) -> Result:
        ttl = cmd["ttl"]
        if ttl <= 0 or ttl > MAX_TTL:
            raise e.InvalidArgument("etcdserver: too large lease TTL" if ttl > 0
                                    else "lease TTL must be positive")
        lease_id = cmd.get("id") or self.leases.new_id()
        if self.leases.get(lease_id) is not None:
            raise e.AlreadyExists(e.MSG_LEASE_EXISTS)
        lease = self.leases.grant(lease_id, ttl, cmd["now"])
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
        if lease is None:
            raise e.NotFound(e.MSG_LEASE_NOT_FOUND)
        lease.expiry = cmd["now"] + lease.ttl
        return {"id": lease.id, "ttl": lease.ttl}

    def _op_lease_expire(self, cmd: Cmd) -> Result:
        expired = self.leases.expired(cmd["now"])
        for lease_id in expired:
            self._revoke(lease_id)
        return {"expired": expired}

    def _op_lease_promote(self, cmd: Cmd) -> Result:
        self.leases.promote(cmd["now"], cmd["extend"])
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


def _target(kv: KeyValue, target: str) -> int | bytes:
    if target == "VERSION":
        return kv.version
    if target == "CREATE":
        return kv.create_revision
    if target == "MOD":
        return kv.mod_revision
    if target == "LEASE":
        return kv.lease
    return kv.value


def _cmp(actual: int | bytes, expected: Any, result: str) -> bool:
    if result == "EQUAL":
        return bool(actual == expected)
    if result == "NOT_EQUAL":
        return bool(actual != expected)
    if result == "GREATER":
        return bool(actual > expected)
    return bool(actual < expected)


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
