"""JSON merge patch (RFC 7386): objects merge member by member, `null` deletes a member,
anything else replaces what was there (lists included).  Pure; the inputs are never
changed.  (Strategic merge patch, which merges some lists by key, builds on this.)"""

from __future__ import annotations

import copy
from typing import Any


def merge(target: Any, patch: Any) -> Any:
    """`target` with `patch` applied."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value)
    return out
