"""Model-based tests of the store's state machine (raftstore.state.KVState).

A plain-dict reference model (key -> (value, create_revision, mod_revision, version, lease),
plus a snapshot of that dict at every revision and the full list of events) is driven
side by side with KVState by a hypothesis RuleBasedStateMachine; after every step the two
must agree on current and historical reads, revisions, compaction, the event history and
the lease table.  Further property tests cover request-id deduplication, determinism
across replicas and pickling, and that `apply` never raises and never half-applies a
malformed command.

No clock and no sleeps: lease time is a float the tests advance and pass in commands.
"""

from __future__ import annotations

import copy
import math
import pickle
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from raftstore import errors as e
from raftstore.leases import FIRST_AUTO_ID, MAX_TTL
from raftstore.mvcc import Event, KeyValue
from raftstore.state import KVState

Cmd = dict[str, Any]
Rec = tuple[bytes, int, int, int, int]  # value, create_revision, mod_revision, version, lease
KVT = tuple[bytes, bytes, int, int, int, int]  # key + Rec
EvT = tuple[str, KVT, KVT | None]
Writes = tuple[set[bytes], list[tuple[bytes, bytes]]]  # keys put, ranges deleted

BOGUS_LEASE = 424_242  # never granted
ALL = (b"\x00", b"\0")  # key, range_end selecting every key

# On failure, shrink one bug only and skip the explain phase: shrinking long stateful runs
# is what takes time, and pytest-timeout (300 s) would cut it short.
STATEFUL = settings(max_examples=100, stateful_step_count=50, deadline=None, database=None,
                    report_multiple_bugs=False,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
PROPERTY = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# ---- helpers --------------------------------------------------------------------------
def prefix_end(prefix: bytes) -> bytes:
    """etcd's GetPrefixRangeEnd: drop trailing 0xff bytes and increment the last one."""
    b = bytearray(prefix)
    for i in reversed(range(len(b))):
        if b[i] < 0xFF:
            b[i] += 1
            return bytes(b[: i + 1])
    return b"\0"


def in_range(k: bytes, key: bytes, range_end: bytes) -> bool:
    if range_end == b"":
        return k == key
    if range_end == b"\0":
        return k >= key
    return key <= k < range_end


def kvt(kv: KeyValue) -> KVT:
    return (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease)


def evt(ev: Event) -> EvT:
    return (ev.type, kvt(ev.kv), None if ev.prev_kv is None else kvt(ev.prev_kv))


def norm(x: Any) -> Any:
    """Results with KeyValues turned into tuples, for comparison with the model."""
    if isinstance(x, KeyValue):
        return kvt(x)
    if isinstance(x, dict):
        return {k: norm(v) for k, v in x.items()}
    if isinstance(x, list):
        return [norm(v) for v in x]
    return x


def error(code: int, message: str, revision: int) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}, "revision": revision}


def fingerprint(s: KVState) -> bytes:
    """Everything a command may change except the request-id cache."""
    return pickle.dumps((s.kv, s.leases, s.members))


def _cmp(actual: int | bytes, expected: int | bytes, result: str) -> bool:
    if result == "EQUAL":
        return actual == expected
    if result == "NOT_EQUAL":
        return actual != expected
    if result == "GREATER":
        return actual > expected  # type: ignore[operator]
    return actual < expected  # type: ignore[operator]


TARGET_INDEX = {"VALUE": 0, "CREATE": 1, "MOD": 2, "VERSION": 3, "LEASE": 4}


def check_sane(s: KVState) -> None:
    """Internal consistency of a state, whatever was applied to it."""
    kv = s.kv
    assert type(kv.revision) is int and type(kv.compact_revision) is int
    assert 1 <= kv.compact_revision <= kv.revision
    items = list(kv.content_items())
    assert [x.key for x in items] == sorted(kv.keys)
    for x in items:
        assert type(x.key) is bytes and x.key and type(x.value) is bytes
        assert all(type(n) is int for n in (x.create_revision, x.mod_revision, x.version, x.lease))
        assert 1 < x.create_revision <= x.mod_revision <= kv.revision and x.version >= 1
        if x.lease:
            assert x.lease in s.leases.leases
    for lid, lease in s.leases.leases.items():
        assert type(lid) is int and type(lease.ttl) is int and 0 < lease.ttl <= MAX_TTL
        assert isinstance(lease.expiry, int | float)
        assert lease.keys == {x.key for x in items if x.lease == lid}
    revs = [ev.kv.mod_revision for ev in kv.history]
    assert revs == sorted(revs)
    assert all(kv.compact_revision <= r <= kv.revision for r in revs)
    assert isinstance(s.content_hash(), int)
    assert norm(s.apply({"op": "range", "key": ALL[0], "range_end": ALL[1]}))["kvs"] == [
        kvt(x) for x in items]
    kv.events_from(kv.compact_revision, *ALL)
    pickle.loads(pickle.dumps(s))


# ---- strategies -----------------------------------------------------------------------
keys_st = st.lists(st.sampled_from([0x61, 0x62, 0xFF]), min_size=1, max_size=3).map(bytes)
values_st = st.sampled_from([b"", b"v", b"w", b"\x00\xff"])
ranges_st = st.one_of(
    keys_st.map(lambda k: (k, b"")),  # one key
    keys_st.map(lambda k: (k, prefix_end(k))),  # prefix
    st.tuples(keys_st, keys_st),  # [key, range_end), possibly empty
    keys_st.map(lambda k: (k, b"\0")),  # key and above
    st.just(ALL),
)


def mk_put(key: bytes, value: bytes, lease: int, prev_kv: bool) -> Cmd:
    cmd: Cmd = {"op": "put", "key": key, "value": value}
    if lease:
        cmd["lease"] = lease
    if prev_kv:
        cmd["prev_kv"] = True
    return cmd


def mk_delete(rng: tuple[bytes, bytes], prev_kv: bool) -> Cmd:
    cmd: Cmd = {"op": "delete", "key": rng[0]}
    if rng[1]:
        cmd["range_end"] = rng[1]
    if prev_kv:
        cmd["prev_kv"] = True
    return cmd


def mk_range(rng: tuple[bytes, bytes], revision: int, limit: int, keys_only: bool,
             count_only: bool) -> Cmd:
    cmd: Cmd = {"op": "range", "key": rng[0]}
    for name, val in (("range_end", rng[1]), ("revision", revision), ("limit", limit),
                      ("keys_only", keys_only), ("count_only", count_only)):
        if val:
            cmd[name] = val
    return cmd


@dataclass(frozen=True)
class RevSel:
    """A range revision, chosen relative to the store when the command is applied:
    0 and -1 read now, -2 is just compacted, -3 is in the future, >= 1 picks a retained one."""

    sel: int


@dataclass(frozen=True)
class NumSel:
    """A compare's CREATE/MOD value, folded into 0..revision+1 when applied."""

    n: int


@dataclass(frozen=True)
class LeaseSel:
    """A lease: -1 one that was never granted, 0 none, >= 1 one of the live leases (if any)."""

    pick: int


@dataclass(frozen=True)
class Ctx:
    revision: int
    compact: int
    leases: list[int]

    def revision_of(self, sel: int) -> int:
        if sel in (0, -1):
            return sel
        if sel == -2:
            return self.compact - 1  # 0 (now) while nothing is compacted
        if sel == -3:
            return self.revision + 1
        return self.compact + (sel - 1) % (self.revision - self.compact + 1)

    def lease_of(self, pick: int) -> int:
        if pick < 0:
            return BOGUS_LEASE
        return self.leases[(pick - 1) % len(self.leases)] if pick and self.leases else 0

    def resolve(self, x: Any) -> Any:
        """A drawn command with its placeholders replaced by values for this store."""
        if isinstance(x, RevSel):
            return self.revision_of(x.sel)
        if isinstance(x, NumSel):
            return x.n % (self.revision + 2)
        if isinstance(x, LeaseSel):
            return self.lease_of(x.pick)
        if isinstance(x, dict):
            return {k: self.resolve(v) for k, v in x.items()}
        if isinstance(x, list):
            return [self.resolve(v) for v in x]
        return x


# Strategies are built once, independent of the store; RevSel/NumSel/LeaseSel placeholders
# are resolved against the model when a rule runs (building strategies per step is slow).
revsel_st = st.sampled_from([0, 0, -1, -2, -3, 1, 1, 2, 3, 4, 5, 6, 7, 8]).map(RevSel)
leasesel_st = st.sampled_from([0, 0, 0, 1, 2, 3, -1]).map(LeaseSel)
range_st = st.builds(mk_range, ranges_st, revsel_st, st.integers(-1, 3), st.booleans(), st.booleans())


def _compare_for(target: str) -> st.SearchStrategy[Cmd]:
    value: st.SearchStrategy[Any]
    if target == "VALUE":
        value = values_st
    elif target == "LEASE":
        value = leasesel_st
    elif target == "VERSION":
        value = st.integers(0, 4)
    else:
        value = st.integers(0, 60).map(NumSel)

    def build(rng: tuple[bytes, bytes], result: str, val: Any) -> Cmd:
        c: Cmd = {"key": rng[0], "target": target, "result": result, "value": val}
        if rng[1]:
            c["range_end"] = rng[1]
        return c

    single = keys_st.map(lambda k: (k, b""))
    return st.builds(build, st.one_of(single, single, ranges_st),
                     st.sampled_from(["EQUAL", "NOT_EQUAL", "GREATER", "LESS"]), value)


compare_st = st.one_of(*[_compare_for(t) for t in ("VALUE", "VERSION", "CREATE", "MOD", "LEASE")])


def _txn_st(depth: int) -> st.SearchStrategy[Cmd]:
    put = st.builds(mk_put, keys_st, values_st, leasesel_st, st.booleans())
    delete = st.builds(mk_delete, ranges_st, st.booleans())
    op = st.one_of(put, put, delete, range_st)
    if depth > 0:
        op = st.one_of(op, _txn_st(depth - 1))

    def build(compare: list[Cmd], success: list[Cmd], failure: list[Cmd]) -> Cmd:
        cmd: Cmd = {"op": "txn"}
        for name, val in (("compare", compare), ("success", success), ("failure", failure)):
            if val:
                cmd[name] = val
        return cmd

    return st.builds(build, st.lists(compare_st, max_size=3), st.lists(op, max_size=4),
                     st.lists(op, max_size=3))


txn_st = _txn_st(depth=1)


# ---- the reference model --------------------------------------------------------------
class Rejected(Exception):
    """A txn the model expects KVState to refuse: (code, message)."""


class Model:
    """What KVState should hold, computed the obvious way."""

    def __init__(self, max_history: int) -> None:
        self.keys: dict[bytes, Rec] = {}
        self.revision = 1
        self.compact = 1
        self.snapshots: dict[int, dict[bytes, Rec]] = {1: {}}
        self.events: list[tuple[int, EvT]] = []
        self.leases: dict[int, list[float]] = {}  # id -> [ttl, expiry]
        self.next_auto = FIRST_AUTO_ID
        self.max_history = max_history
        self._batch: int | None = None

    # writes
    def begin(self) -> None:
        self._batch = None

    def _rev(self) -> int:
        if self._batch is None:
            self.revision += 1
            self._batch = self.revision
        return self._batch

    def put(self, key: bytes, value: bytes, lease: int) -> Rec | None:
        rev = self._rev()
        prev = self.keys.get(key)
        rec = (value, rev, rev, 1, lease) if prev is None else (value, prev[1], rev, prev[3] + 1, lease)
        self.keys[key] = rec
        self.events.append((rev, ("PUT", (key, *rec), None if prev is None else (key, *prev))))
        return prev

    def delete(self, key: bytes) -> Rec | None:
        prev = self.keys.pop(key, None)
        if prev is None:
            return None
        rev = self._rev()
        self.events.append((rev, ("DELETE", (key, b"", 0, rev, 0, 0), (key, *prev))))
        return prev

    def end(self) -> None:
        if self._batch is not None:
            self.snapshots[self._batch] = dict(self.keys)
        self._batch = None
        # The bounded history drops whole revisions, oldest first, never the newest one.
        while True:
            kept = [rev for rev, _ in self.events if rev >= self.compact]
            if len(kept) <= self.max_history or kept[0] >= self.revision:
                break
            self.compact = kept[0] + 1

    def delete_range(self, key: bytes, range_end: bytes, prev_kv: bool) -> dict[str, Any]:
        doomed = [k for k in sorted(self.keys) if in_range(k, key, range_end)]
        prevs = []
        for k in doomed:
            prev = self.delete(k)
            assert prev is not None
            prevs.append((k, *prev))
        out: dict[str, Any] = {"deleted": len(prevs)}
        if prev_kv:
            out["prev_kvs"] = prevs
        return out

    def revoke(self, lease_id: int) -> None:
        del self.leases[lease_id]
        self.begin()
        for k in sorted(k for k, rec in self.keys.items() if rec[4] == lease_id):
            self.delete(k)
        self.end()

    # reads
    def range(self, cmd: Cmd) -> dict[str, Any]:
        rev = cmd.get("revision", 0)
        if rev > self.revision:
            return error(e.OUT_OF_RANGE, e.MSG_FUTURE_REV, self.revision)
        if 0 < rev < self.compact:
            return error(e.OUT_OF_RANGE, e.MSG_COMPACTED, self.revision)
        src = self.keys if rev <= 0 or rev == self.revision else self.snapshots[rev]
        found = [(k, *src[k]) for k in sorted(src) if in_range(k, cmd["key"], cmd.get("range_end", b""))]
        count, more = len(found), False
        limit = cmd.get("limit", 0)
        if limit > 0 and count > limit:
            found, more = found[:limit], True
        if cmd.get("keys_only"):
            found = [(k, b"", c, m, v, ls) for (k, _, c, m, v, ls) in found]
        if cmd.get("count_only"):
            found = []
        return {"kvs": found, "count": count, "more": more, "revision": self.revision}

    def attached(self, lease_id: int) -> set[bytes]:
        return {k for k, rec in self.keys.items() if rec[4] == lease_id}

    # txn
    def check_txn(self, txn: Cmd) -> tuple[int, str] | None:
        """The first validation error, in the order KVState checks (None: valid)."""
        try:
            self._check_txn(txn)
        except Rejected as err:
            return (err.args[0], err.args[1])
        return None

    def _check_txn(self, txn: Cmd) -> tuple[Writes, Writes]:
        return self._check_ops(txn.get("success", [])), self._check_ops(txn.get("failure", []))

    def _check_ops(self, ops: list[Cmd]) -> Writes:
        """Validate a branch; return the keys it puts and the ranges it deletes.

        Duplicates follow etcd's checkIntervals: a key is put at most once and never both
        put and deleted, across nested txns too (but the two branches of one nested txn
        exclude each other), so no key changes twice in one revision.
        """
        nested: list[tuple[Writes, Writes]] = []
        dels: list[tuple[bytes, bytes]] = []
        for op in ops:
            if op["op"] == "put":
                if op.get("lease", 0) and op["lease"] not in self.leases:
                    raise Rejected(e.NOT_FOUND, e.MSG_LEASE_NOT_FOUND)
            elif op["op"] == "delete":
                dels.append((op["key"], op.get("range_end", b"")))
            elif op["op"] == "txn":
                nested.append(self._check_txn(op))
            elif op["op"] == "range":
                rev = op.get("revision", 0)
                if rev > self.revision:
                    raise Rejected(e.OUT_OF_RANGE, e.MSG_FUTURE_REV)
                if 0 < rev < self.compact:
                    raise Rejected(e.OUT_OF_RANGE, e.MSG_COMPACTED)

        def deleted(k: bytes) -> bool:
            return any(in_range(k, key, end) for key, end in dels)

        dup = Rejected(e.INVALID_ARGUMENT, e.MSG_DUPLICATE_KEY)
        puts: set[bytes] = set()
        for (then_puts, then_dels), (else_puts, else_dels) in nested:
            for k in then_puts:
                if k in puts or deleted(k):
                    raise dup
                puts.add(k)
            for k in else_puts:
                if (k in puts and k not in then_puts) or deleted(k):
                    raise dup
                puts.add(k)
            dels += then_dels + else_dels
        for op in ops:
            if op["op"] == "put":
                if op["key"] in puts or deleted(op["key"]):
                    raise dup
                puts.add(op["key"])
        return puts, dels

    def compare(self, c: Cmd) -> bool:
        hits = [k for k in sorted(self.keys) if in_range(k, c["key"], c.get("range_end", b""))]
        if not hits:
            # etcd: a missing key has version/create/mod/lease 0 and fails any VALUE compare.
            return c["target"] != "VALUE" and _cmp(0, c["value"], c["result"])
        return all(_cmp(self.keys[k][TARGET_INDEX[c["target"]]], c["value"], c["result"]) for k in hits)

    def exec_txn(self, txn: Cmd) -> dict[str, Any]:
        ok = all(self.compare(c) for c in txn.get("compare", []))
        return {"succeeded": ok,
                "responses": [self.exec_op(op) for op in txn.get("success" if ok else "failure", [])]}

    def exec_op(self, op: Cmd) -> dict[str, Any]:
        kind = op["op"]
        if kind == "range":
            return {"range": self.range(op)}
        if kind == "put":
            prev = self.put(op["key"], op["value"], op.get("lease", 0))
            return {"put": {"prev_kv": (op["key"], *prev)} if op.get("prev_kv") and prev else {}}
        if kind == "delete":
            return {"delete": self.delete_range(op["key"], op.get("range_end", b""),
                                                bool(op.get("prev_kv")))}
        assert kind == "txn"
        return {"txn": self.exec_txn(op)}


# ---- the state machine ----------------------------------------------------------------
class StateModel(RuleBasedStateMachine):
    """KVState against Model; a second KVState (the replica) gets the same commands."""

    MAX_HISTORY = 100_000

    def __init__(self) -> None:
        super().__init__()
        self.state = KVState(max_history=self.MAX_HISTORY)
        self.replica = KVState(max_history=self.MAX_HISTORY)
        self.m = Model(self.MAX_HISTORY)
        self.now = 1_000.0
        self.rid_seq = 0
        self.with_rid: list[tuple[Cmd, dict[str, Any]]] = []

    def run(self, cmd: Cmd, rid: bool = False) -> dict[str, Any]:
        if rid:
            self.rid_seq += 1
            cmd["rid"] = f"rid-{self.rid_seq}"
        before = fingerprint(self.state)
        result = self.state.apply(cmd)
        twin = self.replica.apply(copy.deepcopy(cmd))
        assert isinstance(result, dict)
        assert norm(result) == norm(twin)
        if "error" in result:
            assert fingerprint(self.state) == before, f"failed {cmd!r} changed the state"
        if rid:
            self.with_rid.append((copy.deepcopy(cmd), copy.deepcopy(result)))
        return result

    @property
    def ctx(self) -> Ctx:
        return Ctx(self.m.revision, self.m.compact, sorted(self.m.leases))

    def lease_pick(self, pick: int) -> int:
        return self.ctx.lease_of(pick)

    # -- kv --------------------------------------------------------------------------
    @initialize(keys=st.lists(keys_st, max_size=6), values=values_st)
    def some_keys(self, keys: list[bytes], values: bytes) -> None:
        for key in keys:
            self.put(key, values, 0, False, False)

    @rule(key=keys_st, value=values_st, pick=st.integers(-1, 3), prev_kv=st.booleans(),
          rid=st.booleans())
    def put(self, key: bytes, value: bytes, pick: int, prev_kv: bool, rid: bool) -> None:
        lease = self.lease_pick(pick)
        res = self.run(mk_put(key, value, lease, prev_kv), rid)
        if lease and lease not in self.m.leases:
            assert res == error(e.NOT_FOUND, e.MSG_LEASE_NOT_FOUND, self.m.revision)
            return
        self.m.begin()
        prev = self.m.put(key, value, lease)
        self.m.end()
        want: dict[str, Any] = {"revision": self.m.revision}
        if prev_kv and prev is not None:
            want["prev_kv"] = (key, *prev)
        assert norm(res) == want

    @rule(rng=ranges_st, prev_kv=st.booleans(), rid=st.booleans())
    def delete(self, rng: tuple[bytes, bytes], prev_kv: bool, rid: bool) -> None:
        res = self.run(mk_delete(rng, prev_kv), rid)
        before = self.m.revision
        self.m.begin()
        want = self.m.delete_range(rng[0], rng[1], prev_kv)
        self.m.end()
        assert self.m.revision == before + (1 if want["deleted"] else 0)
        assert norm(res) == {**want, "revision": self.m.revision}

    @rule(txn=txn_st, rid=st.booleans())
    def txn(self, txn: Cmd, rid: bool) -> None:
        cmd = self.ctx.resolve(txn)
        res = self.run(cmd, rid)
        err = self.m.check_txn(cmd)
        if err:
            assert res == error(*err, self.m.revision)
            return
        before = self.m.revision
        self.m.begin()
        want = self.m.exec_txn(cmd)
        self.m.end()
        assert self.m.revision - before in (0, 1)
        assert norm(res) == {**want, "revision": self.m.revision}

    @rule(rng=range_st)
    def range(self, rng: Cmd) -> None:
        cmd = self.ctx.resolve(rng)
        assert norm(self.run(cmd)) == self.m.range(cmd)

    @rule(sel=st.integers(-3, 4), rid=st.booleans())
    def compact(self, sel: int, rid: bool) -> None:
        rev = self.ctx.revision_of(sel)  # mostly retained; also 0, -1, compacted and future
        res = self.run({"op": "compact", "revision": rev}, rid)
        if rev < self.m.compact:
            assert res == error(e.OUT_OF_RANGE, e.MSG_COMPACTED, self.m.revision)
        elif rev > self.m.revision:
            assert res == error(e.OUT_OF_RANGE, e.MSG_FUTURE_REV, self.m.revision)
        else:
            assert res == {"revision": self.m.revision}
            self.m.compact = rev

    # -- leases ----------------------------------------------------------------------
    @initialize(ttls=st.lists(st.integers(1, 10), max_size=3))
    def some_leases(self, ttls: list[int]) -> None:
        for ttl in ttls:
            self.lease_grant(ttl, 0, False)

    @rule(ttl=st.sampled_from([1, 1, 2, 3, 3, 5, 8, 10, -1, 0, MAX_TTL + 1]),
          lease_id=st.sampled_from([0, 0, 1, 2, 3]), rid=st.booleans())
    def lease_grant(self, ttl: int, lease_id: int, rid: bool) -> None:
        cmd: Cmd = {"op": "lease_grant", "ttl": ttl, "now": self.now}
        if lease_id:
            cmd["id"] = lease_id
        res = self.run(cmd, rid)
        if ttl <= 0 or ttl > MAX_TTL:
            assert res["error"]["code"] == e.INVALID_ARGUMENT
        elif lease_id in self.m.leases:
            assert res == error(e.ALREADY_EXISTS, e.MSG_LEASE_EXISTS, self.m.revision)
        else:
            if not lease_id:
                lease_id = self.m.next_auto
                self.m.next_auto += 1
            assert res == {"id": lease_id, "ttl": ttl, "revision": self.m.revision}
            self.m.leases[lease_id] = [ttl, self.now + ttl]

    @rule(pick=st.integers(-1, 3), rid=st.booleans())
    def lease_revoke(self, pick: int, rid: bool) -> None:
        lease_id = self.lease_pick(pick) or BOGUS_LEASE
        res = self.run({"op": "lease_revoke", "id": lease_id}, rid)
        if lease_id not in self.m.leases:
            assert res == error(e.NOT_FOUND, e.MSG_LEASE_NOT_FOUND, self.m.revision)
            return
        before, doomed = self.m.revision, self.m.attached(lease_id)
        self.m.revoke(lease_id)
        assert self.m.revision == before + (1 if doomed else 0)
        assert res == {"revision": self.m.revision}

    @rule(pick=st.integers(-1, 3), rid=st.booleans())
    def lease_keepalive(self, pick: int, rid: bool) -> None:
        lease_id = self.lease_pick(pick) or BOGUS_LEASE
        res = self.run({"op": "lease_keepalive", "id": lease_id, "now": self.now}, rid)
        # A lease past its expiry cannot be renewed, even before the leader revokes it.
        if lease_id not in self.m.leases or self.m.leases[lease_id][1] <= self.now:
            assert res == error(e.NOT_FOUND, e.MSG_LEASE_NOT_FOUND, self.m.revision)
            return
        lease = self.m.leases[lease_id]
        lease[1] = max(lease[1], self.now + lease[0])
        assert res == {"id": lease_id, "ttl": lease[0], "revision": self.m.revision}

    @rule(dt=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5, 7.0, 12.0]))
    def advance_clock(self, dt: float) -> None:
        self.now += dt

    @rule(jump=st.sampled_from([0.0, 0.0, 4.0, 20.0]), rid=st.booleans())
    def lease_expire(self, jump: float, rid: bool) -> None:
        self.now += jump
        res = self.run({"op": "lease_expire", "now": self.now}, rid)
        expired = sorted(i for i, (_, expiry) in self.m.leases.items() if expiry <= self.now)
        before = self.m.revision
        for lease_id in expired:  # one revision per lease that had keys
            self.m.revoke(lease_id)
        assert res == {"expired": expired, "revision": self.m.revision}
        assert self.m.revision - before <= len(expired)

    @rule(extend=st.sampled_from([0.0, 1.5, 5.0]), rid=st.booleans())
    def lease_promote(self, extend: float, rid: bool) -> None:
        res = self.run({"op": "lease_promote", "now": self.now, "extend": extend}, rid)
        for lease in self.m.leases.values():
            lease[1] = max(lease[1], self.now + lease[0] + extend)
        assert res == {"revision": self.m.revision}

    # -- request ids, replicas -------------------------------------------------------
    @precondition(lambda self: bool(self.with_rid))
    @rule(pick=st.integers(0, 2**16))
    def retry_with_same_rid(self, pick: int) -> None:
        cmd, first = self.with_rid[pick % len(self.with_rid)]
        before = (pickle.dumps(self.state), self.state.kv.revision)
        again = self.state.apply(copy.deepcopy(cmd))
        assert norm(self.replica.apply(copy.deepcopy(cmd))) == norm(again)
        if cmd["op"] in ("range", "barrier"):  # reads and barriers are not cached
            return
        assert norm(again) == norm(first)
        assert (pickle.dumps(self.state), self.state.kv.revision) == before

    @rule()
    def pickle_replica(self) -> None:
        self.replica = pickle.loads(pickle.dumps(self.replica))

    @rule(rid=st.booleans())
    def barrier(self, rid: bool) -> None:
        assert self.run({"op": "barrier"}, rid) == {"revision": self.m.revision}

    # -- invariants ------------------------------------------------------------------
    @invariant()
    def content_matches_model(self) -> None:
        s = self.state
        assert (s.kv.revision, s.kv.compact_revision) == (self.m.revision, self.m.compact)
        assert (self.replica.kv.revision, self.replica.kv.compact_revision) == (self.m.revision,
                                                                                self.m.compact)
        assert [kvt(kv) for kv in s.kv.content_items()] == [(k, *r) for k, r in sorted(self.m.keys.items())]
        assert s.content_hash() == self.replica.content_hash()
        leases = {i: (ls.ttl, ls.expiry, ls.keys) for i, ls in s.leases.leases.items()}
        assert leases == {i: (ttl, exp, self.m.attached(i)) for i, (ttl, exp) in self.m.leases.items()}
        assert s.lease_list() == self.replica.lease_list() == sorted(self.m.leases)
        for lease_id, (ttl, expiry) in self.m.leases.items():
            info = s.lease_info(lease_id, self.now, keys=True)
            assert info["granted_ttl"] == ttl and info["keys"] == sorted(self.m.attached(lease_id))
            assert info["ttl"] == max(-1, min(ttl, math.ceil(expiry - self.now)))  # never above the grant

    @invariant()
    def history_matches_model(self) -> None:
        kv, m = self.state.kv, self.m
        if len(kv.history) > m.max_history:  # only the newest revision may overflow the bound
            assert {ev.kv.mod_revision for ev in kv.history} == {kv.revision}
        # Historical reads at retained revisions (a spread of them: each costs a scan).
        retained = list(range(m.compact, m.revision + 1))
        for rev in sorted({*retained[:2], *retained[-3:], retained[len(retained) // 2]}):
            got = kv.range(*ALL, revision=rev)
            assert [kvt(x) for x in got.kvs] == [(k, *r) for k, r in sorted(m.snapshots[rev].items())]
        if m.compact > 1:
            res = self.state.apply({"op": "range", "key": ALL[0], "range_end": ALL[1],
                                    "revision": m.compact - 1})
            assert res == error(e.OUT_OF_RANGE, e.MSG_COMPACTED, m.revision)
        res = self.state.apply({"op": "range", "key": b"a", "revision": m.revision + 1})
        assert res == error(e.OUT_OF_RANGE, e.MSG_FUTURE_REV, m.revision)
        # Every retained event exactly once, in revision order.
        events = kv.events_from(m.compact, *ALL, limit=10**9)
        assert [evt(ev) for ev in events] == [ev for rev, ev in m.events if rev >= m.compact]
        assert [evt(ev) for ev in events] == [evt(ev) for ev in self.replica.kv.events_from(
            m.compact, *ALL, limit=10**9)]
        with pytest.raises(e.CompactedError) as exc:
            kv.events_from(m.compact - 1, *ALL)
        assert exc.value.compact_revision == m.compact

    @rule(rng=ranges_st, limit=st.integers(1, 4), sel=st.integers(-3, 4))
    def events_paged(self, rng: tuple[bytes, bytes], limit: int, sel: int) -> None:
        """Paging through events_from like a watch yields every matching event once."""
        start = self.ctx.revision_of(sel) if sel > 0 else self.m.revision + 1
        want = [ev for rev, ev in self.m.events if rev >= start and in_range(ev[1][0], *rng)]
        got: list[EvT] = []
        while True:
            page = [evt(ev) for ev in self.state.kv.events_from(start, *rng, limit=limit)]
            if not page:
                break
            revs = [ev[1][3] for ev in page]
            assert revs == sorted(revs) and revs[0] >= start
            assert sum(1 for r in revs if r < revs[-1]) < limit  # stops at a revision boundary
            got += page
            start = revs[-1] + 1
        assert got == want


class BoundedHistoryModel(StateModel):
    """The same, with a tiny event history that keeps trimming (and compacting)."""

    MAX_HISTORY = 2


TestStateModel = StateModel.TestCase
TestStateModel.settings = STATEFUL
TestBoundedHistoryModel = BoundedHistoryModel.TestCase
TestBoundedHistoryModel.settings = STATEFUL


# ---- property tests: request ids, determinism, garbage --------------------------------
valid_cmd_st = st.one_of(
    st.builds(mk_put, keys_st, values_st, st.sampled_from([0, 0, 1, 2]), st.booleans()),
    st.builds(mk_delete, ranges_st, st.booleans()),
    txn_st.map(Ctx(4, 1, [1, 2]).resolve),
    range_st.map(Ctx(4, 1, [1, 2]).resolve),
    st.builds(lambda ttl, i, now: {"op": "lease_grant", "ttl": ttl, "id": i, "now": now},
              st.integers(1, 5), st.sampled_from([0, 1, 2]), st.integers(0, 10).map(float)),
    st.builds(lambda i: {"op": "lease_revoke", "id": i}, st.sampled_from([1, 2])),
    st.builds(lambda i, now: {"op": "lease_keepalive", "id": i, "now": now},
              st.sampled_from([1, 2]), st.integers(0, 10).map(float)),
    st.builds(lambda now: {"op": "lease_expire", "now": now}, st.integers(0, 20).map(float)),
    st.builds(lambda now: {"op": "lease_promote", "now": now, "extend": 1.0}, st.integers(0, 20).map(float)),
    st.builds(lambda r: {"op": "compact", "revision": r}, st.integers(1, 6)),
)

junk_st: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.integers(2**63, 2**70), st.just(-(2**65)),
    st.floats(), st.text(max_size=3), st.binary(max_size=3), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2), st.just(()),
)
junk_deep_st: st.SearchStrategy[Any] = st.one_of(
    junk_st,
    st.lists(st.dictionaries(st.sampled_from(["op", "key", "value", "target", "result", "range_end",
                                              "revision", "limit", "lease"]),
                             st.one_of(junk_st, st.sampled_from(["put", "range", "delete", "txn",
                                                                 "VALUE", "EQUAL", "LESS"]),
                                       keys_st)),
             max_size=3),
)
OPS = ["range", "put", "delete", "txn", "compact", "lease_grant", "lease_revoke", "lease_keepalive",
       "lease_expire", "lease_promote", "barrier", "member_register", "member_remove"]
FIELDS = ["key", "value", "range_end", "lease", "revision", "limit", "ttl", "id", "now", "extend",
          "compare", "success", "failure", "target", "result", "prev_kv", "keys_only", "count_only",
          "name", "peer", "client", "rid", "op"]


@st.composite
def garbage_st(draw: st.DrawFn) -> Any:
    """A command that is not one: not a mapping, random fields, or a corrupted valid one."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(junk_st)
    if kind == 1:
        cmd = {"op": draw(st.one_of(st.sampled_from([*OPS, "nope"]), junk_st))}
        cmd.update(draw(st.dictionaries(st.sampled_from(FIELDS[:-1]), junk_deep_st, max_size=4)))
        return cmd
    cmd = draw(valid_cmd_st)
    target = cmd
    if cmd["op"] == "txn" and kind == 3:  # corrupt something inside the txn
        inner = [*cmd.get("compare", []), *cmd.get("success", []), *cmd.get("failure", [])]
        if inner:
            target = draw(st.sampled_from(inner))
    field = draw(st.sampled_from(sorted(target) + FIELDS))
    if field in target and draw(st.booleans()):
        del target[field]
    else:
        target[field] = draw(junk_deep_st)
    return cmd


@settings(PROPERTY)
@given(setup=st.lists(valid_cmd_st, max_size=8), bad=garbage_st())
def test_apply_never_raises_and_never_half_applies(setup: list[Cmd], bad: Any) -> None:
    s = KVState(max_history=4)
    for cmd in setup:
        s.apply(cmd)
    before = fingerprint(s)
    result = s.apply(bad)  # must not raise
    assert isinstance(result, dict)
    if "error" in result:
        assert set(result["error"]) == {"code", "message"}
        assert fingerprint(s) == before, f"failed {bad!r} changed the state"
    check_sane(s)
    # The state still works.
    assert "error" not in s.apply({"op": "put", "key": b"after", "value": b"x"})
    check_sane(s)


@pytest.mark.parametrize("bad", [
    None, [], "put", b"put", 7, {}, {"op": None}, {"op": "nope"}, {"op": ["put"]},
    {"op": "put"}, {"op": "put", "key": b"k"}, {"op": "put", "key": "k", "value": b"v"},
    {"op": "put", "key": b"k", "value": "v"}, {"op": "put", "key": b"k", "value": b"v", "lease": "x"},
    {"op": "put", "key": b"", "value": b"v"}, {"op": "put", "key": b"k", "value": b"v", "rid": ["x"]},
    {"op": "delete"}, {"op": "delete", "key": "k"}, {"op": "range"},
    {"op": "range", "key": b"a", "limit": "x"},
    {"op": "compact"}, {"op": "compact", "revision": "1"}, {"op": "compact", "revision": 1.5},
    {"op": "lease_grant", "ttl": 5}, {"op": "lease_grant", "ttl": "5", "now": 0.0},
    {"op": "lease_grant", "ttl": 5, "id": "x", "now": 0.0}, {"op": "lease_keepalive", "id": 1},
    {"op": "txn", "success": [{"op": "put", "key": b"a", "value": b"1"}, {"op": "bogus"}]},
    {"op": "txn", "success": [{"op": "put", "key": b"a", "value": b"1"}, {"op": "put", "key": b"b"}]},
    {"op": "txn", "success": [{"op": "put", "key": b"a", "value": b"1"}, {"op": "range", "key": "b"}]},
    {"op": "txn", "success": [{"op": "put", "key": b"a", "value": b"1"},
                              {"op": "range", "key": b"b", "revision": 99}]},
    {"op": "txn", "success": [{"op": "put", "key": b"a", "value": b"1"}, {"op": "delete", "key": b"b",
                                                                          "range_end": "c"}]},
    {"op": "txn", "success": [{"op": "put", "key": b"a", "value": b"1"},
                              {"op": "txn", "compare": [{"key": b"a", "target": "VALUE",
                                                         "result": "LESS", "value": 3}]}]},
    {"op": "txn", "success": [{"op": "put", "key": b"a", "value": b"1"},
                              {"op": "txn", "compare": [{"key": b"a", "target": "MOD"}]}]},
    {"op": "txn", "success": "put"}, {"op": "txn", "compare": "ab"},
])
def test_malformed_commands_are_rejected_without_change(bad: Any) -> None:
    s = KVState()
    s.apply({"op": "put", "key": b"a", "value": b"0"})
    s.apply({"op": "lease_grant", "id": 1, "ttl": 5, "now": 0.0})
    before = fingerprint(s)
    result = s.apply(bad)
    assert "error" in result and result["revision"] == 2
    assert fingerprint(s) == before
    check_sane(s)


write_cmd_st = valid_cmd_st.filter(lambda c: c["op"] != "range")


@settings(PROPERTY)
@given(setup=st.lists(valid_cmd_st, max_size=8), cmd=write_cmd_st, between=st.lists(valid_cmd_st, max_size=3))
def test_same_request_id_is_applied_once(setup: list[Cmd], cmd: Cmd, between: list[Cmd]) -> None:
    s = KVState()
    for c in setup:
        s.apply(c)
    first = copy.deepcopy(s.apply({**cmd, "rid": "r-1"}))
    for c in between:  # other commands (without that rid) may run in between
        s.apply(c)
    before = pickle.dumps(s)
    again = s.apply(copy.deepcopy({**cmd, "rid": "r-1"}))
    assert norm(again) == norm(first)
    assert pickle.dumps(s) == before
    # A fresh request id is a new request.
    fresh = s.apply({**cmd, "rid": "r-2"})
    if "error" not in fresh and cmd["op"] == "put":
        assert fresh["revision"] == s.kv.revision > first["revision"]


def replica_view(s: KVState) -> Any:
    kv = s.kv
    return (kv.revision, kv.compact_revision, s.content_hash(), [kvt(x) for x in kv.content_items()],
            [evt(ev) for ev in kv.history],
            sorted((i, ls.ttl, ls.expiry, sorted(ls.keys)) for i, ls in s.leases.leases.items()),
            s.leases.new_id(), repr(norm(dict(s.responses))))


@settings(PROPERTY)
@given(cmds=st.lists(st.one_of(valid_cmd_st, valid_cmd_st, garbage_st()), max_size=20),
       cut=st.integers(0, 20), rids=st.booleans(), max_history=st.sampled_from([2, 5, 100_000]))
def test_replicas_and_pickled_copies_stay_identical(cmds: list[Any], cut: int, rids: bool,
                                                    max_history: int) -> None:
    if rids:  # some commands carry request ids, with repeats (retries)
        cmds = [{**c, "rid": f"r{i % 7}"} if isinstance(c, dict) else c for i, c in enumerate(cmds)]
    a, b = KVState(max_history), KVState(max_history)
    for i, cmd in enumerate(cmds):
        if i == cut:
            b = pickle.loads(pickle.dumps(b))
        ra, rb = a.apply(copy.deepcopy(cmd)), b.apply(copy.deepcopy(cmd))
        assert repr(norm(ra)) == repr(norm(rb))
    assert a.content_hash() == b.content_hash() and a.kv.revision == b.kv.revision
    assert replica_view(a) == replica_view(b)


# ---- focused regression tests ---------------------------------------------------------
def test_bounded_history_keeps_the_newest_revision_whole() -> None:
    """A batch larger than the history bound must not compact the current revision away."""
    s = KVState(max_history=2)
    s.apply({"op": "put", "key": b"x", "value": b"0"})
    puts = [{"op": "put", "key": k, "value": b"1"} for k in (b"a", b"b", b"c")]
    res = s.apply({"op": "txn", "success": puts})
    assert res["revision"] == s.kv.revision == 3
    assert s.kv.compact_revision == 3 <= s.kv.revision
    assert [ev.kv.key for ev in s.kv.events_from(3, *ALL)] == [b"a", b"b", b"c"]
    assert s.apply({"op": "range", "key": b"a", "revision": 3})["count"] == 1
    assert s.apply({"op": "compact", "revision": 3}) == {"revision": 3}
    s.apply({"op": "put", "key": b"y", "value": b"0"})  # the next batch trims it normally
    assert s.kv.compact_revision == 4 and len(s.kv.history) == 1


def test_txn_is_all_or_nothing_when_a_later_range_is_compacted() -> None:
    s = KVState()
    for v in (b"1", b"2", b"3"):
        s.apply({"op": "put", "key": b"a", "value": v})
    s.apply({"op": "compact", "revision": 4})
    before = fingerprint(s)
    res = s.apply({"op": "txn", "success": [{"op": "put", "key": b"b", "value": b"1"},
                                            {"op": "range", "key": b"a", "revision": 2}]})
    assert res == error(e.OUT_OF_RANGE, e.MSG_COMPACTED, 4)
    assert fingerprint(s) == before


def test_negative_revision_and_limit_mean_current_and_unlimited() -> None:
    s = KVState()
    for k in (b"a", b"b", b"c"):
        s.apply({"op": "put", "key": k, "value": b"v"})
    full = s.apply({"op": "range", "key": b"a", "range_end": b"\0"})
    assert full["count"] == 3 and not full["more"]
    assert s.apply({"op": "range", "key": b"a", "range_end": b"\0", "revision": -1}) == full
    assert s.apply({"op": "range", "key": b"a", "range_end": b"\0", "limit": -1}) == full


def test_failed_lease_grant_does_not_consume_an_id() -> None:
    s, t = KVState(), KVState()
    assert "error" in s.apply({"op": "lease_grant", "ttl": 5})
    assert s.apply({"op": "lease_grant", "ttl": 5, "now": 0.0})["id"] == FIRST_AUTO_ID
    assert t.apply({"op": "lease_grant", "ttl": 5, "now": 0.0})["id"] == FIRST_AUTO_ID


def test_lease_expiry_deletes_attached_keys_one_revision_per_lease() -> None:
    s = KVState()
    s.apply({"op": "lease_grant", "id": 1, "ttl": 5, "now": 0.0})
    s.apply({"op": "lease_grant", "id": 2, "ttl": 10, "now": 0.0})
    s.apply({"op": "lease_grant", "id": 3, "ttl": 5, "now": 0.0})
    for key, lease in ((b"a", 1), (b"b", 1), (b"c", 2), (b"d", 0)):
        s.apply({"op": "put", "key": key, "value": b"v", "lease": lease})
    assert s.kv.revision == 5
    assert s.apply({"op": "lease_expire", "now": 4.9}) == {"expired": [], "revision": 5}
    assert s.apply({"op": "lease_expire", "now": 5.0}) == {"expired": [1, 3], "revision": 6}
    assert [kv.key for kv in s.kv.content_items()] == [b"c", b"d"]
    assert [(ev.type, ev.kv.key, ev.kv.mod_revision) for ev in s.kv.events_from(6, *ALL)] == [
        ("DELETE", b"a", 6), ("DELETE", b"b", 6)]
    assert s.lease_list() == [2]


def test_nested_txns_may_not_write_a_key_twice() -> None:
    """etcd's checkIntervals: no key is put twice, or put and deleted, in one revision."""
    s = KVState()
    put_a = {"op": "put", "key": b"a", "value": b"1"}
    for txn in (
        {"op": "txn", "success": [put_a, {"op": "txn", "success": [put_a]}]},
        {"op": "txn", "success": [{"op": "delete", "key": b"a", "range_end": b"b"},
                                  {"op": "txn", "failure": [put_a]}]},
        {"op": "txn", "success": [{"op": "txn", "success": [put_a]}, {"op": "txn", "failure": [put_a]}]},
        {"op": "txn", "failure": [put_a, {"op": "txn", "success": [{"op": "delete", "key": b"a"}]}]},
    ):
        assert s.apply(txn) == error(e.INVALID_ARGUMENT, e.MSG_DUPLICATE_KEY, 1)
    # The two branches of one nested txn exclude each other.
    res = s.apply({"op": "txn", "success": [{"op": "txn", "success": [put_a], "failure": [put_a]}]})
    assert res["succeeded"] and s.kv.revision == 2 and s.kv.keys[b"a"].version == 1


def test_history_is_bounded_by_size_as_well_as_count() -> None:
    from raftstore.mvcc import KeySpace

    space = KeySpace(max_history=1000, max_history_bytes=10_000)
    for i in range(50):
        space.begin()
        space.put(f"/k{i % 3}".encode(), b"x" * 1000, 0)
        space.end()
    assert space.history_bytes <= 10_000 and len(space.history) < 50
    assert space.compact_revision > 1  # what was dropped can no longer be read or watched
    assert [ev.kv.mod_revision for ev in space.history][-1] == space.revision  # the newest stays
    # A snapshot pickled before the size bound existed: counted once, then kept up to date.
    del space.__dict__["_history_bytes"], space.__dict__["max_history_bytes"]
    counted = space.history_bytes
    assert counted > 0 and space.max_history_bytes == 256 * 2**20
