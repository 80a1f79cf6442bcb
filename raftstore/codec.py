"""The etcd v3 JSON gateway format: base64 bytes, int64 as strings, snake_case fields.

`decode_*` turn a request body into an internal command and reject anything odd with
`InvalidArgument` naming the field (wrong type, bad base64, unknown field).  `encode_*`
turn internal results into etcd-shaped JSON (zero values omitted, as etcd's gateway does).
The client uses the same helpers, so both ends agree with each other and with etcd.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from raftstore.errors import MSG_TOO_MANY_OPS, InvalidArgument, StoreError
from raftstore.mvcc import Event, KeyValue
from raftstore.txn import MAX_TXN_OPS, RESULTS, TARGETS

Json = dict[str, Any]

RANGE_FIELDS = {"key", "range_end", "limit", "revision", "serializable", "keys_only", "count_only",
                "sort_order", "sort_target", "min_mod_revision", "max_mod_revision",
                "min_create_revision", "max_create_revision"}
PUT_FIELDS = {"key", "value", "lease", "prev_kv", "ignore_value", "ignore_lease"}
DELETE_FIELDS = {"key", "range_end", "prev_kv"}
COMPARE_FIELDS = {"key", "range_end", "target", "result", "value", "version", "create_revision",
                  "mod_revision", "lease"}
TXN_FIELDS = {"compare", "success", "failure"}
TARGET_FIELD = {"VALUE": "value", "VERSION": "version", "CREATE": "create_revision",
                "MOD": "mod_revision", "LEASE": "lease"}


# ---- scalar helpers ---------------------------------------------------------------
def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64d(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidArgument(f"field {field!r}: expected a base64 string, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"field {field!r}: invalid base64") from None


def as_int(value: Any, field: str) -> int:
    """etcd's int64 fields arrive as JSON numbers or as decimal strings."""
    if isinstance(value, bool):
        raise InvalidArgument(f"field {field!r}: expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    digits = value.removeprefix("-") if isinstance(value, str) else ""
    if isinstance(value, str) and len(value) <= 20 and digits.isascii() and digits.isdigit():
        number = int(value)
        if -2**63 <= number < 2**63:  # int64, as etcd's fields are
            return number
    raise InvalidArgument(f"field {field!r}: expected an integer, got {value!r:.40}")


def as_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidArgument(f"field {field!r}: expected true or false, got {value!r:.40}")


def obj(body: Any, allowed: set[str], where: str) -> Json:
    if not isinstance(body, dict):
        raise InvalidArgument(f"{where}: expected a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidArgument(f"{where}: unknown field {unknown[0]!r}")
    return body


# ---- requests -----------------------------------------------------------------------
def decode_range(body: Any, where: str = "range") -> Json:
    b = obj(body, RANGE_FIELDS, where)
    for f in ("min_mod_revision", "max_mod_revision", "min_create_revision", "max_create_revision"):
        if as_int(b.get(f, 0), f):
            raise StoreError(f"{where}: {f} is not supported by this store", 12)
    if b.get("sort_order", "NONE") not in ("NONE", "ASCEND") or b.get("sort_target", "KEY") != "KEY":
        raise StoreError(f"{where}: only key-ascending order is supported", 12)
    cmd: Json = {"op": "range", "key": b64d(b.get("key", ""), "key"),
                 "range_end": b64d(b.get("range_end", ""), "range_end"),
                 "limit": as_int(b.get("limit", 0), "limit"),
                 "revision": as_int(b.get("revision", 0), "revision")}
    for f in ("serializable", "keys_only", "count_only"):
        cmd[f] = as_bool(b.get(f, False), f)
    if cmd["limit"] < 0 or cmd["revision"] < 0:
        raise InvalidArgument(f"{where}: limit and revision must not be negative")
    return cmd


def decode_put(body: Any, where: str = "put") -> Json:
    b = obj(body, PUT_FIELDS, where)
    if b.get("ignore_value") or b.get("ignore_lease"):
        raise StoreError(f"{where}: ignore_value/ignore_lease are not supported", 12)
    return {"op": "put", "key": b64d(b.get("key", ""), "key"),
            "value": b64d(b.get("value", ""), "value"),
            "lease": as_int(b.get("lease", 0), "lease"),
            "prev_kv": as_bool(b.get("prev_kv", False), "prev_kv")}


def decode_delete(body: Any, where: str = "delete_range") -> Json:
    b = obj(body, DELETE_FIELDS, where)
    return {"op": "delete", "key": b64d(b.get("key", ""), "key"),
            "range_end": b64d(b.get("range_end", ""), "range_end"),
            "prev_kv": as_bool(b.get("prev_kv", False), "prev_kv")}


def decode_compare(body: Any, where: str) -> Json:
    b = obj(body, COMPARE_FIELDS, where)
    target, result = b.get("target", "VERSION"), b.get("result", "EQUAL")
    if target not in TARGETS:
        raise InvalidArgument(f"{where}.target: expected one of {', '.join(TARGETS)}")
    if result not in RESULTS:
        raise InvalidArgument(f"{where}.result: expected one of {', '.join(RESULTS)}")
    field = TARGET_FIELD[target]
    raw = b.get(field, "" if target == "VALUE" else 0)
    value: bytes | int = b64d(raw, field) if target == "VALUE" else as_int(raw, field)
    return {"key": b64d(b.get("key", ""), "key"), "range_end": b64d(b.get("range_end", ""), "range_end"),
            "target": target, "result": result, "value": value}


MAX_TXN_DEPTH = 8


def decode_txn(body: Any, where: str = "txn", budget: list[int] | None = None) -> Json:
    # Deep nesting would make the state unpicklable (snapshots fail for good).
    if where.count("request_txn") >= MAX_TXN_DEPTH:
        raise InvalidArgument(f"{where}: txns may be nested at most {MAX_TXN_DEPTH} deep")
    b = obj(body, TXN_FIELDS, where)
    budget = budget if budget is not None else [0]
    cmd: Json = {"op": "txn"}
    for part in ("compare", "success", "failure"):
        items = b.get(part, [])
        if not isinstance(items, list):
            raise InvalidArgument(f"{where}.{part}: expected a list")
        budget[0] += len(items)
        if len(items) > MAX_TXN_OPS or budget[0] > 4 * MAX_TXN_OPS:
            raise InvalidArgument(MSG_TOO_MANY_OPS)
        if part == "compare":
            cmd[part] = [decode_compare(c, f"{where}.compare[{i}]") for i, c in enumerate(items)]
        else:
            cmd[part] = [decode_request_op(op, f"{where}.{part}[{i}]", budget) for i, op in enumerate(items)]
    return cmd


def decode_request_op(body: Any, where: str, budget: list[int]) -> Json:
    b = obj(body, {"request_range", "request_put", "request_delete_range", "request_txn"}, where)
    if len(b) != 1:
        raise InvalidArgument(f"{where}: expected exactly one of request_range, request_put, "
                              "request_delete_range, request_txn")
    kind, inner = next(iter(b.items()))
    if kind == "request_range":
        return decode_range(inner, f"{where}.request_range")
    if kind == "request_put":
        return decode_put(inner, f"{where}.request_put")
    if kind == "request_delete_range":
        return decode_delete(inner, f"{where}.request_delete_range")
    return decode_txn(inner, f"{where}.request_txn", budget)


def request_bytes(cmd: Json) -> int:
    """Bytes of keys and values a command carries (for the request-size limit)."""
    total = len(cmd.get("key", b"")) + len(cmd.get("value", b"")) + len(cmd.get("range_end", b""))
    for part in ("compare", "success", "failure"):
        for sub in cmd.get(part, []):
            total += request_bytes(sub) if "op" in sub else len(sub["key"]) + (
                len(sub["value"]) if isinstance(sub["value"], bytes) else 8)
    return total


# ---- responses ----------------------------------------------------------------------
def kv_json(kv: KeyValue) -> Json:
    out: Json = {"key": b64e(kv.key)}
    if kv.create_revision:
        out["create_revision"] = str(kv.create_revision)
    if kv.mod_revision:
        out["mod_revision"] = str(kv.mod_revision)
    if kv.version:
        out["version"] = str(kv.version)
    if kv.value:
        out["value"] = b64e(kv.value)
    if kv.lease:
        out["lease"] = str(kv.lease)
    return out


def kv_from_json(d: Json) -> KeyValue:
    return KeyValue(base64.b64decode(d.get("key", "")), base64.b64decode(d.get("value", "")),
                    int(d.get("create_revision", 0)), int(d.get("mod_revision", 0)),
                    int(d.get("version", 0)), int(d.get("lease", 0)))


def encode_range(res: Json) -> Json:
    out: Json = {}
    if res["kvs"]:
        out["kvs"] = [kv_json(kv) for kv in res["kvs"]]
    if res["more"]:
        out["more"] = True
    if res["count"]:
        out["count"] = str(res["count"])
    return out


def encode_put(res: Json) -> Json:
    return {"prev_kv": kv_json(res["prev_kv"])} if res.get("prev_kv") else {}


def encode_delete(res: Json) -> Json:
    out: Json = {}
    if res["deleted"]:
        out["deleted"] = str(res["deleted"])
    if res.get("prev_kvs"):
        out["prev_kvs"] = [kv_json(kv) for kv in res["prev_kvs"]]
    return out


def encode_txn(res: Json) -> Json:
    out: Json = {"responses": [encode_txn_response(r) for r in res["responses"]]}
    if res["succeeded"]:
        out["succeeded"] = True
    return out


def encode_txn_response(r: Json) -> Json:
    kind, inner = next(iter(r.items()))
    if kind == "range":
        return {"response_range": encode_range(inner)}
    if kind == "put":
        return {"response_put": encode_put(inner)}
    if kind == "delete":
        return {"response_delete_range": encode_delete(inner)}
    return {"response_txn": encode_txn(inner)}


def event_json(ev: Event, prev_kv: bool) -> Json:
    out: Json = {"kv": kv_json(ev.kv)}
    if ev.type == "DELETE":
        out["type"] = "DELETE"
    if prev_kv and ev.prev_kv is not None:
        out["prev_kv"] = kv_json(ev.prev_kv)
    return out
