"""PATCH bodies: JSON merge patch (RFC 7386; also used for strategic merge) and JSON
patch (RFC 6902: add, remove, replace, move, copy, test)."""

from __future__ import annotations

import copy
from typing import Any

from control_plane.apiserver.errors import ApiError, bad_request

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
        doc: Any = copy.deepcopy(current)
        for i, op in enumerate(body):
            doc = _json_patch_op(doc, op, i)
        if not isinstance(doc, dict):
            raise bad_request("the JSON patch must leave an object")
        return doc
    raise ApiError(415, "UnsupportedMediaType", f"the content type {content_type!r} is not supported for "
                   f"PATCH; use {MERGE[0]} or {JSON_PATCH}")


def merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value)
    return out


def _pointer(path: Any, i: int) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise bad_request(f"patch[{i}].path: must be a JSON pointer like /spec/replicas")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _walk(doc: Any, parts: list[str], i: int) -> Any:
    for part in parts:
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            raise ApiError(422, "Invalid", f"patch[{i}]: path /{'/'.join(parts)} does not exist")
    return doc


def _json_patch_op(doc: Any, op: Any, i: int) -> Any:
    if not isinstance(op, dict) or op.get("op") not in ("add", "remove", "replace", "move", "copy", "test"):
        raise bad_request(f"patch[{i}].op: must be one of add, remove, replace, move, copy, test")
    parts = _pointer(op.get("path"), i)
    kind = op["op"]
    if kind == "test":
        if _walk(doc, parts, i) != op.get("value"):
            raise ApiError(422, "Invalid", f"patch[{i}]: test failed at {op.get('path')}")
        return doc
    if kind in ("move", "copy"):
        value = copy.deepcopy(_walk(doc, _pointer(op.get("from"), i), i))
        if kind == "move":
            doc = _remove(doc, _pointer(op.get("from"), i), i)
        return _add(doc, parts, value, i)
    if kind == "remove":
        return _remove(doc, parts, i)
    if "value" not in op:
        raise bad_request(f"patch[{i}].value: required for {kind}")
    if kind == "replace":
        _walk(doc, parts, i)
        doc = _remove(doc, parts, i)
    return _add(doc, parts, copy.deepcopy(op["value"]), i)


def _add(doc: Any, parts: list[str], value: Any, i: int) -> Any:
    if not parts:
        return value
    parent, last = _walk(doc, parts[:-1], i), parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and (last == "-" or (last.isdigit() and int(last) <= len(parent))):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        raise ApiError(422, "Invalid", f"patch[{i}]: cannot add at /{'/'.join(parts)}")
    return doc


def _remove(doc: Any, parts: list[str], i: int) -> Any:
    _walk(doc, parts, i)
    parent, last = _walk(doc, parts[:-1], i), parts[-1]
    if isinstance(parent, dict):
        del parent[last]
    else:
        del parent[int(last)]
    return doc
