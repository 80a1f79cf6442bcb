"""Object validation: every problem is reported with its field path (422 Invalid).

Checks what Skiff relies on: names (DNS-1123), labels, apiVersion/kind, and the specs
of the kinds that components read (Pod, Deployment, Node, Service, Lease, Event).
Unknown fields are kept, as Kubernetes does for forward compatibility.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from control_plane.api.objects import Obj
from control_plane.api.quantity import parse_quantity
from control_plane.api.resources import Resource
from control_plane.apiserver.errors import invalid

Causes = list[tuple[str, str]]

MAX_OBJECT_BYTES = 1536 * 1024
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_KINDS = {"Namespace", "Service"}  # names that must be DNS labels, not subdomains
TAINT_EFFECTS = {"NoSchedule", "PreferNoSchedule", "NoExecute"}
RESTART_POLICIES = {"Always", "OnFailure", "Never"}


def check_name(name: Any, field: str, label: bool, causes: Causes) -> None:
    if not isinstance(name, str) or not name:
        causes.append((field, "Required value: a name is required"))
        return
    limit, pattern = (63, DNS_LABEL) if label else (253, DNS_SUBDOMAIN)
    if len(name) > limit or not pattern.match(name):
        what = "RFC 1123 label" if label else "RFC 1123 subdomain"
        chars = "'-'" if label else "'-' or '.'"
        causes.append((field, f'Invalid value: "{name}": a lowercase {what} must consist of lower case '
                              f"alphanumeric characters, {chars}, start and end with an alphanumeric "
                              f"character, and be at most {limit} characters"))


def check_labels(labels: Any, field: str, causes: Causes) -> None:
    if labels is None:
        return
    if not isinstance(labels, dict):
        causes.append((field, "Invalid value: must be a map of strings"))
        return
    for key, value in labels.items():
        name = key.rsplit("/", 1)[-1] if isinstance(key, str) else ""
        if not isinstance(key, str) or len(name) > 63 or not LABEL_NAME.match(name):
            causes.append((f"{field}[{key}]", "Invalid value: not a valid label key"))
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            causes.append((f"{field}[{key}]", f"Invalid value: {value!r}: not a valid label value"))


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


def check_pod_spec(spec: Any, path: str, causes: Causes) -> None:
    if not isinstance(spec, dict):
        causes.append((path, "Required value: spec is required"))
        return
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        causes.append((f"{path}.containers", "Required value: at least one container is required"))
        containers = []
    seen: set[str] = set()
    for i, c in enumerate(containers):
        cpath = f"{path}.containers[{i}]"
        if not isinstance(c, dict):
            causes.append((cpath, "Invalid value: expected object"))
            continue
        check_name(c.get("name"), f"{cpath}.name", True, causes)
        if c.get("name") in seen:
            causes.append((f"{cpath}.name", f'Duplicate value: "{c.get("name")}"'))
        seen.add(str(c.get("name")))
        for arr in ("command", "args"):
            value = c.get(arr)
            if value is not None and not (isinstance(value, list) and all(isinstance(x, str) for x in value)):
                causes.append((f"{cpath}.{arr}", "Invalid value: expected an array of strings"))
        for j, env in enumerate(c.get("env") or []):
            if not isinstance(env, dict) or not isinstance(env.get("name"), str) or not env.get("name"):
                causes.append((f"{cpath}.env[{j}].name", "Required value"))
            elif not isinstance(env.get("value", ""), str):
                causes.append((f"{cpath}.env[{j}].value", "Invalid value: expected string"))
        for part in ("requests", "limits"):
            for rname, qty in ((c.get("resources") or {}).get(part) or {}).items():
                try:
                    parse_quantity(qty)
                except ValueError as err:
                    causes.append((f"{cpath}.resources.{part}.{rname}", f"Invalid value: {err}"))
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in RESTART_POLICIES:
        causes.append((f"{path}.restartPolicy", f'Unsupported value: "{policy}": supported values: '
                                               '"Always", "OnFailure", "Never"'))
    if spec.get("nodeName") is not None and not isinstance(spec.get("nodeName"), str):
        causes.append((f"{path}.nodeName", "Invalid value: expected string"))


def _pod(obj: Obj, causes: Causes) -> None:
    check_pod_spec(obj.get("spec"), "spec", causes)


def _deployment(obj: Obj, causes: Causes) -> None:
    replicas = _typed(obj, "spec.replicas", int, causes)
    if replicas is not None and replicas < 0:
        causes.append(("spec.replicas", "Invalid value: must be greater than or equal to 0"))
    match = _typed(obj, "spec.selector.matchLabels", dict, causes, required=True)
    labels = _typed(obj, "spec.template.metadata.labels", dict, causes, required=True)
    if isinstance(match, dict) and isinstance(labels, dict) and any(
            labels.get(k) != v for k, v in match.items()):
        causes.append(("spec.template.metadata.labels", "Invalid value: `selector` does not match template "
                                                        "`labels`"))
    check_pod_spec((obj.get("spec") or {}).get("template", {}).get("spec"), "spec.template.spec", causes)


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


SPEC_CHECKS: dict[str, Callable[[Obj, Causes], None]] = {
    "Pod": _pod, "Deployment": _deployment, "Node": _node, "Service": _service, "Lease": _lease,
    "Event": _event,
}
