"""PATCH bodies: JSON merge patch (RFC 7386; also used for strategic merge) and JSON
patch (RFC 6902: add, remove, replace, move, copy, test).

A JSON patch is bounded: at most MAX_OPS operations, and the document may not grow past
MAX_RESULT_BYTES while it is applied (checked after every op, so sixteen `copy` ops of
the whole document cannot blow a small body up exponentially).  The growth is counted
conservatively (what ops add; removals are not subtracted), and counting it costs no
more than the growth itself.  Every malformed op or pointer is an API error naming the
op (`patch[i]`), never an exception of another kind.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from control_plane.api.mergepatch import merge
from control_plane.apiserver.errors import ApiError, bad_request

MAX_OPS = 1000
MAX_RESULT_BYTES = 3 * 1024 * 1024

MERGE = ("application/merge-patch+json", "application/strategic-merge-patch+json")
JSON_PATCH = "application/json-patch+json"


def apply(current: dict[str, Any], body: Any, content_type: str) -> dict[str, Any]:
    kind = content_type.split(";")[0].strip().lower()
    if kind in MERGE:
        if not isinstance(body, dict):
            raise bad_request("a merge patch must be a JSON object")
        result = merge(current, body)
        assert isinstance(result, dict)
        return result
    if kind == JSON_PATCH:
        if not isinstance(body, list):
            raise bad_request("a JSON patch must be an array of operations")
        if len(body) > MAX_OPS:
            raise ApiError(422, "Invalid", f"a JSON patch may hold at most {MAX_OPS} operations, "
                                           f"not {len(body)}")
        doc: Any = copy.deepcopy(current)
        size = _size(doc)
        for i, op in enumerate(body):
            doc, grown = _json_patch_op(doc, op, i)
            size += grown
            if size > MAX_RESULT_BYTES:
                raise ApiError(422, "Invalid", f"patch[{i}]: the patched object would be larger than "
                                               f"{MAX_RESULT_BYTES} bytes")
        if not isinstance(doc, dict):
            raise bad_request("the JSON patch must leave an object")
        return doc
    raise ApiError(415, "UnsupportedMediaType", f"the content type {content_type!r} is not supported for "
                   f"PATCH; use {MERGE[0]} or {JSON_PATCH}")


def _json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values (RFC 6902 §4.6): of the same JSON type (true is not 1, 1 is
    1.0), objects member by member, arrays element by element."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def _pointer(path: Any, i: int, field: str = "path") -> list[str]:
    """The reference tokens of a JSON pointer (RFC 6901)."""
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise ApiError(422, "Invalid", f"patch[{i}].{field}: must be a JSON pointer like /spec/replicas")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _index(part: str, length: int, i: int, parts: list[str]) -> int:
    """An array index of RFC 6901: ASCII digits, no leading zero, within `length`."""
    if not (part.isascii() and part.isdigit()) or (len(part) > 1 and part[0] == "0") or int(part) >= length:
        raise ApiError(422, "Invalid", f"patch[{i}]: path /{'/'.join(parts)} does not exist")
    return int(part)


def _walk(doc: Any, parts: list[str], i: int) -> Any:
    for part in parts:
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list):
            doc = doc[_index(part, len(doc), i, parts)]
        else:
            raise ApiError(422, "Invalid", f"patch[{i}]: path /{'/'.join(parts)} does not exist")
    return doc


def _json_patch_op(doc: Any, op: Any, i: int) -> tuple[Any, int]:
    """The document after one op, and how many bytes the op may have added."""
    if not isinstance(op, dict) or op.get("op") not in ("add", "remove", "replace", "move", "copy", "test"):
        raise ApiError(422, "Invalid",
                       f"patch[{i}].op: must be one of add, remove, replace, move, copy, test")
    parts = _pointer(op.get("path"), i)
    kind = op["op"]
    if kind == "test":
        if "value" not in op:
            raise ApiError(422, "Invalid", f"patch[{i}].value: required for test")
        if not _json_equal(_walk(doc, parts, i), op["value"]):
            raise ApiError(422, "Invalid", f"patch[{i}]: test failed at {op.get('path')}")
        return doc, 0
    if kind in ("move", "copy"):
        source = _pointer(op.get("from"), i, "from")
        if kind == "move" and parts[:len(source)] == source and len(parts) > len(source):
            raise ApiError(422, "Invalid", f"patch[{i}]: cannot move {op.get('from')} into itself")
        value = _walk(doc, source, i)
        if kind == "move":
            return _add(_remove(doc, source, i), parts, value, i), 0
        value = copy.deepcopy(value)
        return _add(doc, parts, value, i), _size(value)
    if kind == "remove":
        return _remove(doc, parts, i), 0
    if "value" not in op:
        raise ApiError(422, "Invalid", f"patch[{i}].value: required for {kind}")
    if kind == "replace":
        _walk(doc, parts, i)
        if parts:
            doc = _remove(doc, parts, i)
    value = copy.deepcopy(op["value"])
    return _add(doc, parts, value, i), _size(value)


def _add(doc: Any, parts: list[str], value: Any, i: int) -> Any:
    if not parts:
        return value
    parent, last = _walk(doc, parts[:-1], i), parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        at = len(parent) if last == "-" else _index(last, len(parent) + 1, i, parts)
        parent.insert(at, value)
    else:
        raise ApiError(422, "Invalid", f"patch[{i}]: cannot add at /{'/'.join(parts)}")
    return doc


def _remove(doc: Any, parts: list[str], i: int) -> Any:
    if not parts:
        raise ApiError(422, "Invalid", f"patch[{i}]: cannot remove the whole object")
    parent, last = _walk(doc, parts[:-1], i), parts[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(last, len(parent), i, parts)]
    else:
        raise ApiError(422, "Invalid", f"patch[{i}]: path /{'/'.join(parts)} does not exist")
    return doc
