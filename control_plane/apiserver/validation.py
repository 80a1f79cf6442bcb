"""Object validation: every problem is reported with its field path (422 Invalid).

Checks what Skiff relies on: names (DNS-1123), labels, apiVersion/kind, and the specs
of the kinds that components read (Pod, Deployment, Node, Service, Lease, Event).
Unknown fields are kept, as Kubernetes does for forward compatibility.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from control_plane.api.names import Causes, check_labels, check_name
from control_plane.api.objects import Obj
from control_plane.api.resources import Resource
from control_plane.apiserver.errors import invalid
from control_plane.apiserver.podvalidation import TAINT_EFFECTS, check_pod_spec, check_quantities

MAX_OBJECT_BYTES = 1536 * 1024
MAX_INT32 = 2**31 - 1
STRATEGIES = ("Recreate", "RollingUpdate")
PERCENT = re.compile(r"^[0-9]{1,3}%$")
LABEL_KINDS = {"Namespace", "Service"}  # names that must be DNS labels, not subdomains


def validate(res: Resource, obj: Any, namespace: str | None) -> None:
    """Raise 422 listing every invalid field of `obj` (of kind `res`)."""
    causes: Causes = []
    if not isinstance(obj, dict):
        raise invalid(res.kind, "", [("", "Invalid value: the body must be a JSON object")])
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if obj.get("kind", res.kind) != res.kind:
        causes.append(("kind", f'Invalid value: "{obj.get("kind")}": must be {res.kind}'))
    if obj.get("apiVersion", res.api_version) != res.api_version:
        causes.append(("apiVersion", f'Invalid value: "{obj.get("apiVersion")}": must be {res.api_version}'))
    if not isinstance(meta, dict):
        causes.append(("metadata", "Required value: metadata is required"))
    else:
        check_name(name, "metadata.name", res.kind in LABEL_KINDS, causes)
        check_labels(meta.get("labels"), "metadata.labels", causes)
        ns = meta.get("namespace")
        if res.namespaced and ns not in (None, namespace):
            causes.append(("metadata.namespace", f'Invalid value: "{ns}": does not match the namespace '
                                                 f'of the request ("{namespace}")'))
    spec_check = SPEC_CHECKS.get(res.kind)
    if spec_check is not None:
        spec_check(obj, causes)
    if causes:
        raise invalid(res.kind, name if isinstance(name, str) else "", causes)


def _typed(obj: Obj, path: str, kind: type | tuple[type, ...], causes: Causes, required: bool = False) -> Any:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        if required:
            causes.append((path, "Required value"))
        return None
    if not isinstance(cur, kind) or (kind is int and isinstance(cur, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        causes.append((path, f"Invalid value: expected {_json_type(names)}, got {type(cur).__name__}"))
        return None
    return cur


def _json_type(py: str) -> str:
    names = {"str": "string", "int": "integer", "dict": "object", "list": "array", "bool": "boolean"}
    return names.get(py, py)


def _pod(obj: Obj, causes: Causes) -> None:
    check_pod_spec(obj.get("spec"), "spec", causes)


def _deployment(obj: Obj, causes: Causes) -> None:
    if _typed(obj, "spec", dict, causes, required=True) is None:
        return
    for field in ("replicas", "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"):
        value = _typed(obj, f"spec.{field}", int, causes)
        if value is not None and value < 0:
            causes.append((f"spec.{field}", "Invalid value: must be greater than or equal to 0"))
        elif value is not None and value > MAX_INT32:
            causes.append((f"spec.{field}", f"Invalid value: must be less than or equal to {MAX_INT32}"))
    _strategy(obj, causes)
    match = _typed(obj, "spec.selector.matchLabels", dict, causes, required=True)
    _typed(obj, "spec.template", dict, causes, required=True)
    _typed(obj, "spec.template.metadata", dict, causes)
    labels = _typed(obj, "spec.template.metadata.labels", dict, causes, required=True)
    if isinstance(match, dict) and isinstance(labels, dict) and any(
            labels.get(k) != v for k, v in match.items()):
        causes.append(("spec.template.metadata.labels", "Invalid value: `selector` does not match template "
                                                        "`labels`"))
    template = obj["spec"].get("template")
    check_pod_spec(template.get("spec") if isinstance(template, dict) else None, "spec.template.spec", causes)


def _strategy(obj: Obj, causes: Causes) -> None:
    """`spec.strategy`: Recreate or RollingUpdate, whose maxSurge and maxUnavailable are
    each an integer >= 0 or a percentage such as "25%" (Kubernetes' IntOrString)."""
    kind = _typed(obj, "spec.strategy.type", str, causes)
    if kind is not None and kind not in STRATEGIES:
        causes.append(("spec.strategy.type", f'Unsupported value: "{kind}": supported values: '
                                             '"Recreate", "RollingUpdate"'))
    _typed(obj, "spec.strategy", dict, causes)
    _typed(obj, "spec.strategy.rollingUpdate", dict, causes)
    for field in ("maxSurge", "maxUnavailable"):
        value = _typed(obj, f"spec.strategy.rollingUpdate.{field}", (int, str), causes)
        if value is None:
            continue
        ok = (0 <= value <= MAX_INT32) if isinstance(value, int) else PERCENT.match(value) is not None
        if not ok:
            causes.append((f"spec.strategy.rollingUpdate.{field}", f"Invalid value: {value!r}: must be an "
                                                                   'integer >= 0 or a percentage ("25%")'))


def _node(obj: Obj, causes: Causes) -> None:
    for i, taint in enumerate(_typed(obj, "spec.taints", list, causes) or []):
        if not isinstance(taint, dict) or not isinstance(taint.get("key"), str):
            causes.append((f"spec.taints[{i}].key", "Required value"))
        elif taint.get("effect") not in TAINT_EFFECTS:
            causes.append((f"spec.taints[{i}].effect", f'Unsupported value: "{taint.get("effect")}"'))
    _typed(obj, "spec.unschedulable", bool, causes)


def _service(obj: Obj, causes: Causes) -> None:
    _typed(obj, "spec.selector", dict, causes)
    for i, port in enumerate(_typed(obj, "spec.ports", list, causes) or []):
        value = port.get("port") if isinstance(port, dict) else None
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
            causes.append((f"spec.ports[{i}].port", "Invalid value: must be between 1 and 65535, inclusive"))


def _lease(obj: Obj, causes: Causes) -> None:
    _typed(obj, "spec.holderIdentity", str, causes)
    _typed(obj, "spec.leaseDurationSeconds", int, causes)


def _event(obj: Obj, causes: Causes) -> None:
    _typed(obj, "involvedObject", dict, causes, required=True)


POD_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")


def validate_status(res: Resource, name: str, status: Any) -> None:
    """Raise 422 for a status that components could not read: what agents write about
    their Node (quantities, conditions) and their pods (phase, conditions)."""
    causes: Causes = []
    if not isinstance(status, dict):
        raise invalid(res.kind, name, [("status", "Invalid value: expected an object")])
    conditions = status.get("conditions")
    if conditions is not None and not (isinstance(conditions, list) and all(
            isinstance(c, dict) and isinstance(c.get("type"), str) and isinstance(c.get("status", ""), str)
            for c in conditions)):
        causes.append(("status.conditions", "Invalid value: expected an array of objects with a string "
                                            "type and status"))
    if res.kind == "Node":
        for part in ("capacity", "allocatable"):
            check_quantities(status.get(part), f"status.{part}", causes)
    if res.kind == "Pod" and status.get("phase") is not None and status.get("phase") not in POD_PHASES:
        causes.append(("status.phase", f'Unsupported value: "{status.get("phase")}": supported values: '
                                       + ", ".join(f'"{p}"' for p in POD_PHASES)))
    if causes:
        raise invalid(res.kind, name, causes)


SPEC_CHECKS: dict[str, Callable[[Obj, Causes], None]] = {
    "Pod": _pod, "Deployment": _deployment, "Node": _node, "Service": _service, "Lease": _lease,
    "Event": _event,
}
