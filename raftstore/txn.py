"""Transactions as etcd has them: validation of a whole txn before its first write, and
the evaluation of its compares.  Pure functions; the state machine executes the branch.

A txn is checked completely first (every compare, every op of both branches, nested txns
included) because a failure after the first write would leave it half-applied; and, as
etcd's `checkIntervals`, a key is put at most once and not also deleted in one txn, so
no key changes twice in one revision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from raftstore import errors as e
from raftstore.fields import need_bytes, need_int
from raftstore.mvcc import KeySpace, KeyValue, in_range

MAX_TXN_OPS = 128
# Compare targets and results, as the etcd JSON API names them.
TARGETS = ("VERSION", "CREATE", "MOD", "VALUE", "LEASE")
RESULTS = ("EQUAL", "GREATER", "LESS", "NOT_EQUAL")

Cmd = dict[str, Any]
Check = Callable[[Cmd], None]
Writes = tuple[set[bytes], list[tuple[bytes, bytes]]]  # a branch's keys put, ranges deleted


def check(cmd: Cmd, check_put: Check, check_range: Check) -> None:
    """Validate a txn (see the module doc); raises `InvalidArgument`.  `check_put` and
    `check_range` validate one put or range op as the state machine would alone."""
    _check_txn(cmd, check_put, check_range)


def _check_txn(cmd: Cmd, check_put: Check, check_range: Check) -> tuple[Writes, Writes]:
    """Validate everything a txn (and its nested txns) will execute, before any write.

    Nested compares and every range run after the txn's first write, so they are
    checked here too: a failure there would leave the txn half-applied.  Returns the
    writes of the success and of the failure branch.
    """
    compare = cmd.get("compare", [])
    if len(compare) > MAX_TXN_OPS:
        raise e.InvalidArgument(e.MSG_TOO_MANY_OPS)
    for c in compare:
        check_compare(c)
    return (_check_ops(cmd.get("success", []), check_put, check_range),
            _check_ops(cmd.get("failure", []), check_put, check_range))


def _check_ops(ops: list[Cmd], check_put: Check, check_range: Check) -> Writes:
    """Validate one branch; return the keys it puts and the ranges it deletes.

    As etcd's checkIntervals: a key is put at most once and not also deleted, nested
    txns included (the two branches of one nested txn exclude each other), so no key
    changes twice in one revision.
    """
    if len(ops) > MAX_TXN_OPS:
        raise e.InvalidArgument(e.MSG_TOO_MANY_OPS)
    nested: list[tuple[Writes, Writes]] = []
    dels: list[tuple[bytes, bytes]] = []
    for op in ops:
        kind = op["op"]
        if kind == "put":
            check_put(op)
        elif kind == "delete":
            check_delete(op)
            dels.append((op["key"], op.get("range_end", b"")))
        elif kind == "range":
            check_range(op)
        elif kind == "txn":
            nested.append(_check_txn(op, check_put, check_range))
        else:
            raise e.InvalidArgument(f"unknown txn operation {kind!r}")

    def deleted(k: bytes) -> bool:
        return any(in_range(k, key, end) for key, end in dels)

    puts: set[bytes] = set()
    for (then_puts, then_dels), (else_puts, else_dels) in nested:
        for k in then_puts:
            if k in puts or deleted(k):
                raise e.InvalidArgument(e.MSG_DUPLICATE_KEY)
            puts.add(k)
        for k in else_puts:
            if (k in puts and k not in then_puts) or deleted(k):
                raise e.InvalidArgument(e.MSG_DUPLICATE_KEY)
            puts.add(k)
        dels += then_dels + else_dels
    for op in ops:
        if op["op"] == "put":
            if op["key"] in puts or deleted(op["key"]):
                raise e.InvalidArgument(e.MSG_DUPLICATE_KEY)
            puts.add(op["key"])
    return puts, dels


def compare(kv: KeySpace, c: Cmd) -> bool:
    """Whether one compare holds (every key of its range must satisfy it)."""
    keys = kv.select(c["key"], c.get("range_end", b""))
    if not keys:
        # A missing key has version, create and mod revision 0, lease 0 and no value.
        if c["target"] == "VALUE":
            return False
        return _cmp(0, c["value"], c["result"])
    return all(_cmp(_target(kv.keys[k], c["target"]), c["value"], c["result"]) for k in keys)


def check_delete(cmd: Cmd) -> None:
    if not need_bytes(cmd, "key"):
        raise e.InvalidArgument(e.MSG_KEY_EMPTY)
    need_bytes(cmd, "range_end")


def check_compare(c: Cmd) -> None:
    need_bytes(c, "key", required=True)
    need_bytes(c, "range_end")
    target = c.get("target")
    if target not in TARGETS or c.get("result") not in RESULTS:
        raise e.InvalidArgument("invalid compare target or result")
    if target == "VALUE":
        need_bytes(c, "value", required=True)
    else:
        need_int(c, "value", required=True)


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
