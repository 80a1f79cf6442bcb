"""Label and field selectors (Kubernetes syntax), parsed once, matched per object.

Label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`,
comma-separated (all must hold).  Field selectors: `path=value`, `path==value`,
`path!=value` on a fixed set of fields per kind (as Kubernetes), comma-separated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from control_plane.api.objects import Obj
from control_plane.apiserver.errors import bad_request

Matcher = Callable[[Obj], bool]

FIELDS = {
    "metadata.name", "metadata.namespace", "spec.nodeName", "status.phase", "spec.unschedulable",
    "involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "involvedObject.uid",
    "reason", "type",
}

_SET = re.compile(r"^\s*(!?)([A-Za-z0-9_./-]+)\s*(?:(in|notin)\s*\(([^)]*)\)|(==|!=|=)\s*([^,]*))?\s*$")


def _split(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p for p in parts if p.strip()]


def label_selector(text: str | None) -> Matcher:
    if not text:
        return lambda _: True
    tests: list[Matcher] = [_label_term(t) for t in _split(text)]
    return lambda obj: all(t(obj) for t in tests)


def _label_term(term: str) -> Matcher:
    m = _SET.match(term)
    if m is None:
        raise bad_request(f"unable to parse requirement: {term.strip()!r}")
    neg, key, setop, values, op, value = m.groups()

    def labels(obj: Obj) -> dict[str, str]:
        return obj.get("metadata", {}).get("labels") or {}

    if setop:
        allowed = {v.strip() for v in values.split(",") if v.strip()}
        if setop == "in":
            return lambda o: labels(o).get(key) in allowed
        return lambda o: labels(o).get(key) not in allowed
    if op:
        if neg:
            raise bad_request(f"unable to parse requirement: {term.strip()!r}")
        want = value.strip()
        if op == "!=":
            return lambda o: labels(o).get(key) != want
        return lambda o: labels(o).get(key) == want
    if neg:
        return lambda o: key not in labels(o)
    return lambda o: key in labels(o)


def field_value(obj: Obj, path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return "" if cur is None else str(cur)


def field_selector(text: str | None) -> Matcher:
    if not text:
        return lambda _: True
    tests: list[Matcher] = []
    for term in _split(text):
        m = re.match(r"^\s*([A-Za-z.]+)\s*(==|!=|=)\s*(.*?)\s*$", term)
        if m is None:
            raise bad_request(f"invalid field selector: {term.strip()!r}")
        path, op, want = m.groups()
        if path not in FIELDS:
            raise bad_request(f'field label not supported: "{path}"')
        tests.append(_field_term(path, op != "!=", want))
    return lambda obj: all(t(obj) for t in tests)


def _field_term(path: str, equal: bool, want: str) -> Matcher:
    return lambda o: (field_value(o, path) == want) == equal
