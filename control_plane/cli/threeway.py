"""The three-way merge behind `skiff apply` (kubectl's client-side apply, simplified).

`apply(current, last, desired)` returns the object to write:
- fields the manifest sets are set (maps merge key by key, lists are replaced whole);
- fields the *previous* manifest (`last`, from the annotation) set but this one no
  longer does are removed;
- every other field is kept: what the server and the controllers own (uid,
  resourceVersion, status, a scheduler's `spec.nodeName`...) survives an apply.

The manifest itself is recorded in the annotation `LAST_APPLIED`, kubectl's name, so
`kubectl apply` and `skiff apply` understand each other.  Pure functions, no I/O.
"""

from __future__ import annotations

import copy
import json

from control_plane.api.objects import Obj

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def annotated(manifest: Obj) -> Obj:
    """The manifest plus the annotation that records it (for the next apply)."""
    out = copy.deepcopy(manifest)
    record = copy.deepcopy(manifest)
    annotations = (record.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
        if not annotations:
            del record["metadata"]["annotations"]
    meta = out.setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}),
                           LAST_APPLIED: json.dumps(record, sort_keys=True, separators=(",", ":"))}
    return out


def last_applied(current: Obj) -> Obj:
    """The manifest recorded on the live object by the previous apply ({} if none)."""
    text = ((current.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not isinstance(text, str):
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def apply(current: Obj, last: Obj, desired: Obj) -> Obj:
    """The object to write (see the module doc); `current` is not modified."""
    out = copy.deepcopy(current)
    _merge(out, last, desired)
    return out


def _merge(target: Obj, last: Obj, desired: Obj) -> None:
    for key in last:
        if key not in desired:
            target.pop(key, None)
    for key, value in desired.items():
        here, before = target.get(key), last.get(key)
        if isinstance(value, dict) and isinstance(here, dict):
            _merge(here, before if isinstance(before, dict) else {}, value)
        else:
            target[key] = copy.deepcopy(value)
