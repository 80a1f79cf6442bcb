"""The etcd v3 JSON gateway format: requests decode into commands (bytes as base64, int64
as numbers or decimal strings, snake_case fields), anything odd is `InvalidArgument`
(400) naming the field; results encode with zero values omitted, as etcd's gateway
(grpc-gateway's proto3 JSON) does."""

from __future__ import annotations

from typing import Any

import pytest

from raftstore import codec
from raftstore.codec import b64e
from raftstore.errors import MSG_TOO_MANY_OPS, UNIMPLEMENTED, InvalidArgument, StoreError
from raftstore.mvcc import Event, KeyValue
from raftstore.txn import MAX_TXN_OPS

KEY, END = b64e(b"/registry/pods/"), b64e(b"/registry/pods0")


def invalid(decode: Any, body: Any) -> str:
    """The InvalidArgument message for `body` (a 400 on the wire)."""
    with pytest.raises(InvalidArgument) as info:
        decode(body)
    assert info.value.http_status == 400
    return info.value.message


def unimplemented(decode: Any, body: Any) -> str:
    with pytest.raises(StoreError) as info:
        decode(body)
    assert info.value.code == UNIMPLEMENTED and info.value.http_status == 501
    return info.value.message


# ---- range ----------------------------------------------------------------------------
def test_range_defaults() -> None:
    assert codec.decode_range({}) == {"op": "range", "key": b"", "range_end": b"", "limit": 0, "revision": 0,
                                      "serializable": False, "keys_only": False, "count_only": False}


def test_range_fields() -> None:
    cmd = codec.decode_range({"key": KEY, "range_end": END, "limit": "10", "revision": 7,
                              "serializable": True, "keys_only": True, "count_only": False,
                              "sort_order": "ASCEND", "sort_target": "KEY", "min_mod_revision": "0"})
    assert (cmd["key"], cmd["range_end"], cmd["limit"], cmd["revision"]) == (
        b"/registry/pods/", b"/registry/pods0", 10, 7)
    assert (cmd["serializable"], cmd["keys_only"], cmd["count_only"]) == (True, True, False)


@pytest.mark.parametrize("body", [{"limit": -1}, {"limit": "-5"}, {"revision": -3}, {"revision": "-1"}])
def test_a_negative_limit_or_revision_is_refused(body: Any) -> None:
    # docs/store.md: "Negative limit or revision in a range is refused with 400."
    assert invalid(codec.decode_range, body) == "range: limit and revision must not be negative"


@pytest.mark.parametrize(("body", "message"), [
    ({"key": 5}, "field 'key': expected a base64 string, got int"),
    ({"key": "not base64!"}, "field 'key': invalid base64"),
    ({"range_end": "AA="}, "field 'range_end': invalid base64"),  # bad padding
    ({"limit": True}, "field 'limit': expected an integer, got a boolean"),
    ({"limit": 1.5}, "field 'limit': expected an integer, got 1.5"),
    ({"limit": "1e3"}, "field 'limit': expected an integer, got '1e3'"),
    ({"limit": "١٢"}, "field 'limit': expected an integer, got '١٢'"),  # digits, but not ASCII
    ({"revision": "9" * 21}, "field 'revision': expected an integer, got '" + "9" * 21 + "'"),
    ({"revision": None}, "field 'revision': expected an integer, got None"),
    ({"serializable": "true"}, "field 'serializable': expected true or false, got 'true'"),
    ({"keys_only": 1}, "field 'keys_only': expected true or false, got 1"),
    ({"prefix": True}, "range: unknown field 'prefix'"),
    ([], "range: expected a JSON object"),
    ("key", "range: expected a JSON object"),
])
def test_bad_range_fields_are_named(body: Any, message: str) -> None:
    assert invalid(codec.decode_range, body) == message


# Once `lstrip("-")` let '--5' reach int() (a ValueError: 500) instead of InvalidArgument.
def test_a_doubly_negative_string_is_invalid_argument() -> None:
    assert invalid(codec.decode_range, {"limit": "--5"}) == "field 'limit': expected an integer, got '--5'"


@pytest.mark.parametrize("body", [{"min_mod_revision": 1}, {"max_create_revision": "2"},
                                  {"sort_order": "DESCEND"}, {"sort_target": "MOD"}])
def test_unsupported_range_options_are_unimplemented(body: Any) -> None:
    assert "range: " in unimplemented(codec.decode_range, body)


# ---- put and delete -------------------------------------------------------------------
def test_put() -> None:
    body = {"key": b64e(b"k"), "value": b64e(b"\x00\xffv"), "lease": "42", "prev_kv": True}
    assert codec.decode_put(body) == {"op": "put", "key": b"k", "value": b"\x00\xffv", "lease": 42,
                                      "prev_kv": True}
    assert codec.decode_put({"key": b64e(b"k")}) == {"op": "put", "key": b"k", "value": b"", "lease": 0,
                                                     "prev_kv": False}


@pytest.mark.parametrize(("body", "message"), [
    ({"value": "%%%"}, "field 'value': invalid base64"),
    ({"lease": "forever"}, "field 'lease': expected an integer, got 'forever'"),
    ({"prev_kv": "yes"}, "field 'prev_kv': expected true or false, got 'yes'"),
    ({"range_end": END}, "put: unknown field 'range_end'"),
])
def test_bad_put_fields_are_named(body: Any, message: str) -> None:
    assert invalid(codec.decode_put, body) == message


@pytest.mark.parametrize("flag", ["ignore_value", "ignore_lease"])
def test_put_ignore_flags_are_unimplemented(flag: str) -> None:
    assert unimplemented(codec.decode_put, {"key": b64e(b"k"), flag: True}) == \
        "put: ignore_value/ignore_lease are not supported"


def test_delete() -> None:
    assert codec.decode_delete({"key": KEY, "range_end": END, "prev_kv": True}) == \
        {"op": "delete", "key": b"/registry/pods/", "range_end": b"/registry/pods0", "prev_kv": True}
    assert invalid(codec.decode_delete, {"key": KEY, "lease": 1}) == "delete_range: unknown field 'lease'"
    assert invalid(codec.decode_delete, {"key": "?"}) == "field 'key': invalid base64"


# ---- txn ------------------------------------------------------------------------------
def test_txn_with_compares_and_every_kind_of_request() -> None:
    body = {
        "compare": [{"key": b64e(b"a"), "target": "MOD", "result": "LESS", "mod_revision": "5"},
                    {"key": b64e(b"b"), "target": "VALUE", "value": b64e(b"x")},
                    {"key": b64e(b"c")}],
        "success": [{"request_put": {"key": b64e(b"a"), "value": b64e(b"1")}},
                    {"request_range": {"key": b64e(b"b")}},
                    {"request_delete_range": {"key": b64e(b"c")}},
                    {"request_txn": {"success": [{"request_put": {"key": b64e(b"d")}}]}}],
    }
    cmd = codec.decode_txn(body)
    assert cmd["op"] == "txn" and cmd["failure"] == []
    assert cmd["compare"] == [
        {"key": b"a", "range_end": b"", "target": "MOD", "result": "LESS", "value": 5},
        {"key": b"b", "range_end": b"", "target": "VALUE", "result": "EQUAL", "value": b"x"},
        # etcd's defaults: target VERSION, result EQUAL, value 0 ("the key does not exist")
        {"key": b"c", "range_end": b"", "target": "VERSION", "result": "EQUAL", "value": 0},
    ]
    assert [op["op"] for op in cmd["success"]] == ["put", "range", "delete", "txn"]
    assert cmd["success"][3]["success"][0] == {"op": "put", "key": b"d", "value": b"", "lease": 0,
                                               "prev_kv": False}


@pytest.mark.parametrize(("target", "field", "raw", "value"), [
    ("VERSION", "version", "2", 2), ("CREATE", "create_revision", 3, 3), ("MOD", "mod_revision", "4", 4),
    ("LEASE", "lease", "99", 99), ("VALUE", "value", b64e(b"v"), b"v"),
])
def test_each_compare_target_reads_its_own_field(target: str, field: str, raw: Any, value: Any) -> None:
    compare = codec.decode_txn({"compare": [{"key": b64e(b"k"), "target": target, field: raw}]})["compare"][0]
    assert compare["value"] == value


@pytest.mark.parametrize(("body", "message"), [
    ({"compare": [{"target": "SIZE"}]},
     "txn.compare[0].target: expected one of VERSION, CREATE, MOD, VALUE, LEASE"),
    ({"compare": [{"result": "ABOUT"}]},
     "txn.compare[0].result: expected one of EQUAL, GREATER, LESS, NOT_EQUAL"),
    ({"compare": [{"target": "MOD", "mod_revision": "x"}]},
     "field 'mod_revision': expected an integer, got 'x'"),
    ({"compare": [{"target": "VALUE", "value": 3}]}, "field 'value': expected a base64 string, got int"),
    ({"compare": [{"key": b64e(b"k"), "op": "eq"}]}, "txn.compare[0]: unknown field 'op'"),
    ({"compare": {"key": KEY}}, "txn.compare: expected a list"),
    ({"success": "put"}, "txn.success: expected a list"),
    ({"failure": [{}]}, "txn.failure[0]: expected exactly one of request_range, request_put, "
                        "request_delete_range, request_txn"),
    ({"success": [{"request_put": {}, "request_range": {}}]},
     "txn.success[0]: expected exactly one of request_range, request_put, request_delete_range, request_txn"),
    ({"success": [{"request_lease_grant": {}}]}, "txn.success[0]: unknown field 'request_lease_grant'"),
    ({"success": [{"request_put": {"key": KEY}}, {"request_put": {"key": KEY, "ttl": 1}}]},
     "txn.success[1].request_put: unknown field 'ttl'"),
    ({"success": [{"request_txn": {"failure": [{"request_range": {"limit": -1}}]}}]},
     "txn.success[0].request_txn.failure[0].request_range: limit and revision must not be negative"),
    ({"then": []}, "txn: unknown field 'then'"),
])
def test_bad_txns_name_where(body: Any, message: str) -> None:
    assert invalid(codec.decode_txn, body) == message


def test_txn_operation_limits() -> None:
    put = {"request_put": {"key": KEY}}
    codec.decode_txn({"success": [put] * MAX_TXN_OPS})
    # etcd's --max-txn-ops (128 by default) per list...
    assert invalid(codec.decode_txn, {"success": [put] * (MAX_TXN_OPS + 1)}) == MSG_TOO_MANY_OPS
    # ...and a budget over the whole request, nested txns included.
    nested = {"request_txn": {"success": [put] * MAX_TXN_OPS}}
    assert invalid(codec.decode_txn, {"success": [nested] * 4}) == MSG_TOO_MANY_OPS


def test_txn_nesting_depth() -> None:
    def nest(depth: int) -> dict[str, Any]:
        body: dict[str, Any] = {"success": [{"request_put": {"key": KEY}}]}
        for _ in range(depth):
            body = {"success": [{"request_txn": body}]}
        return body

    codec.decode_txn(nest(codec.MAX_TXN_DEPTH - 1))
    message = invalid(codec.decode_txn, nest(codec.MAX_TXN_DEPTH))
    assert message.endswith(f"txns may be nested at most {codec.MAX_TXN_DEPTH} deep")


def test_request_bytes_counts_keys_values_and_compares() -> None:
    cmd = codec.decode_txn({
        "compare": [{"key": b64e(b"ab"), "target": "VALUE", "value": b64e(b"xyz")},
                    {"key": b64e(b"c"), "target": "MOD", "mod_revision": 1}],
        "success": [{"request_put": {"key": b64e(b"k"), "value": b64e(b"v" * 10)}}],
        "failure": [{"request_delete_range": {"key": b64e(b"d"), "range_end": b64e(b"e")}}],
    })
    assert codec.request_bytes(cmd) == (2 + 3) + (1 + 8) + (1 + 10) + (1 + 1)


# ---- responses ------------------------------------------------------------------------
KV = KeyValue(b"/registry/pods/default/web", b'{"kind":"Pod"}', 5, 9, 3, 0)


def test_key_values_omit_zero_fields_and_write_int64_as_strings() -> None:
    assert codec.kv_json(KV) == {"key": b64e(KV.key), "value": b64e(KV.value), "create_revision": "5",
                                 "mod_revision": "9", "version": "3"}
    assert codec.kv_json(KeyValue(b"k", b"", 0, 0, 0, 7)) == {"key": b64e(b"k"), "lease": "7"}
    for kv in (KV, KeyValue(b"k", b"", 0, 0, 0, 7)):
        assert codec.kv_from_json(codec.kv_json(kv)) == kv  # what the client reads back


def test_encode_range() -> None:
    assert codec.encode_range({"kvs": [], "more": False, "count": 0}) == {}
    assert codec.encode_range({"kvs": [KV], "more": True, "count": 3}) == {
        "kvs": [codec.kv_json(KV)], "more": True, "count": "3"}


def test_encode_put_and_delete() -> None:
    assert codec.encode_put({"prev_kv": None}) == {} == codec.encode_put({})
    assert codec.encode_put({"prev_kv": KV}) == {"prev_kv": codec.kv_json(KV)}
    assert codec.encode_delete({"deleted": 0}) == {}
    assert codec.encode_delete({"deleted": 2, "prev_kvs": [KV]}) == {"deleted": "2",
                                                                     "prev_kvs": [codec.kv_json(KV)]}


def test_encode_txn_nests_responses_by_kind() -> None:
    res = {"succeeded": True, "responses": [
        {"range": {"kvs": [KV], "more": False, "count": 1}},
        {"put": {}},
        {"delete": {"deleted": 1}},
        {"txn": {"succeeded": False, "responses": [{"put": {"prev_kv": KV}}]}},
    ]}
    assert codec.encode_txn(res) == {"succeeded": True, "responses": [
        {"response_range": {"kvs": [codec.kv_json(KV)], "count": "1"}},
        {"response_put": {}},
        {"response_delete_range": {"deleted": "1"}},
        {"response_txn": {"responses": [{"response_put": {"prev_kv": codec.kv_json(KV)}}]}},  # false omitted
    ]}


def test_watch_events() -> None:
    # PUT is the enum's zero value, so etcd's gateway leaves "type" out for it.
    put = Event("PUT", KV, None)
    assert codec.event_json(put, prev_kv=True) == {"kv": codec.kv_json(KV)}
    deleted = Event("DELETE", KeyValue(KV.key, b"", 0, 10, 0), KV)
    assert codec.event_json(deleted, prev_kv=False) == {"kv": {"key": b64e(KV.key), "mod_revision": "10"},
                                                        "type": "DELETE"}
    assert codec.event_json(deleted, prev_kv=True)["prev_kv"] == codec.kv_json(KV)


def test_base64_helpers() -> None:
    assert codec.b64d(b64e(b"\x00\x01\xfe"), "key") == b"\x00\x01\xfe"
    assert codec.b64d("", "key") == b""
    assert invalid(lambda v: codec.b64d(v, "key"), "YQ") == "field 'key': invalid base64"  # unpadded
    assert invalid(lambda v: codec.b64d(v, "key"), "a b=") == "field 'key': invalid base64"
