"""Small, pure readings of Pod objects that several controllers share."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def is_terminating(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_ready(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with controller=true, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def name_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def namespace_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace", "default"))
