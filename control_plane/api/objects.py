"""Small, pure readings of API objects that every component shares, written once.

All functions take the JSON object as the API serves it (`Obj`), never mutate it, and
tolerate missing fields (an absent `status` reads as "not ready", never a KeyError).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

# Marks a static pod's mirror in the API (Kubernetes' kubetypes.ConfigMirrorAnnotationKey).
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
TERMINAL_PHASES = ("Succeeded", "Failed")


def meta(obj: Obj) -> Obj:
    """The object's metadata ({} when absent)."""
    return obj.get("metadata") or {}


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: Obj) -> str:
    """The namespace, `default` when none is set (what the API server fills in)."""
    return str(meta(obj).get("namespace") or "default")


def object_key(obj: Obj) -> str:
    """`namespace/name` for namespaced objects, `name` for cluster-scoped ones (client-go's
    MetaNamespaceKeyFunc)."""
    m = meta(obj)
    return f"{m['namespace']}/{m.get('name', '')}" if m.get("namespace") else str(m.get("name", ""))


def condition(obj: Obj, kind: str) -> Obj | None:
    """The status condition of type `kind`, if reported."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if isinstance(c, dict) and c.get("type") == kind), None)


def condition_true(obj: Obj, kind: str) -> bool:
    return (condition(obj, kind) or {}).get("status") == "True"


def is_node_ready(node: Obj) -> bool:
    """The node's Ready condition is True."""
    return condition_true(node, "Ready")


def is_pod_ready(pod: Obj) -> bool:
    """Running with the Ready condition True (what a Deployment counts as available)."""
    return (pod.get("status") or {}).get("phase") == "Running" and condition_true(pod, "Ready")


def is_terminal(pod: Obj) -> bool:
    """Succeeded or Failed: the pod will never run again."""
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def is_terminating(obj: Obj) -> bool:
    """A deletion was asked for (graceful deletion is under way)."""
    return bool(meta(obj).get("deletionTimestamp"))


def is_mirror(pod: Obj) -> bool:
    """The API's copy of a node's static pod."""
    return MIRROR_ANNOTATION in (meta(pod).get("annotations") or {})


def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with controller=true, if any."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def tolerates(toleration: Obj, key: str, value: str, effect: str) -> bool:
    """Whether one toleration tolerates the taint (key, value, effect).

    Kubernetes' `Toleration.ToleratesTaint`: an empty effect matches every effect;
    `Exists` with an empty key matches every taint; otherwise (`Equal`, the default)
    key and value must both match.
    """
    if toleration.get("effect") and toleration.get("effect") != effect:
        return False
    if toleration.get("operator") == "Exists":
        return not toleration.get("key") or toleration.get("key") == key
    return bool(toleration.get("key") == key and toleration.get("value", "") == value)


DEFAULT_GRACE_SECONDS = 30  # Kubernetes' terminationGracePeriodSeconds default


def _seconds(value: Any, default: int) -> int:
    """`value` if it is a non-negative integer (as validation requires), else `default`:
    a reader never fails on an object stored before validation was as strict."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default


def grace_seconds(pod: Obj) -> int:
    """The pod's terminationGracePeriodSeconds (30 when unset)."""
    return _seconds((pod.get("spec") or {}).get("terminationGracePeriodSeconds"), DEFAULT_GRACE_SECONDS)


def deletion_grace_seconds(pod: Obj) -> int:
    """The grace its deletion was given (metadata.deletionGracePeriodSeconds; 0 when unset)."""
    return _seconds(meta(pod).get("deletionGracePeriodSeconds"), 0)
