"""Builders of etcd v3 txn parts (compares and operations), in the JSON gateway's shape:
what a client puts in `StoreClient.txn`.  Pure."""

from __future__ import annotations

from typing import Any

from raftstore.codec import b64e

Json = dict[str, Any]

_OPS = {"=": "EQUAL", "==": "EQUAL", "!=": "NOT_EQUAL", ">": "GREATER", "<": "LESS"}


def compare(key: bytes, target: str, op: str, value: bytes | int) -> Json:
    """A txn compare: target is value|version|create|mod|lease, op is =, !=, <, >."""
    field_name = {"value": "value", "version": "version", "create": "create_revision",
                  "mod": "mod_revision", "lease": "lease"}[target]
    raw = b64e(value) if isinstance(value, bytes) else str(value)
    return {"key": b64e(key), "target": target.upper() if target != "create" else "CREATE",
            "result": _OPS[op], field_name: raw}


def op_put(key: bytes, value: bytes, lease: int = 0, prev_kv: bool = False) -> Json:
    body: Json = {"key": b64e(key), "value": b64e(value)}
    if lease:
        body["lease"] = str(lease)
    if prev_kv:
        body["prev_kv"] = True
    return {"request_put": body}


def op_get(key: bytes, range_end: bytes = b"") -> Json:
    body: Json = {"key": b64e(key)}
    if range_end:
        body["range_end"] = b64e(range_end)
    return {"request_range": body}


def op_delete(key: bytes, range_end: bytes = b"") -> Json:
    body: Json = {"key": b64e(key)}
    if range_end:
        body["range_end"] = b64e(range_end)
    return {"request_delete_range": body}
