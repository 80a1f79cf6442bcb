"""Validation of a PodSpec: every field the scheduler, the controllers and the agents read
is checked for its type, bounds and allowed values, so that one accepted pod can never
break a component that reads it.  Messages follow Kubernetes' field errors
(`k8s.io/apimachinery/pkg/util/validation/field`): "Required value", "Invalid value: ...",
"Unsupported value: ...: supported values: ...".

Kubernetes' rules taken here (pkg/apis/core/validation/validation.go):
- tolerations: operator `Equal` (the default) or `Exists`; with `Exists` the value must be
  empty; effect empty or one of the taint effects; `tolerationSeconds` an integer.
- nodeSelector: a map of valid label keys to valid label values.
- node affinity terms: operators In, NotIn (values required), Exists, DoesNotExist (no
  values), Gt, Lt (exactly one integer value); preferred terms weigh 1 to 100.
- terminationGracePeriodSeconds: an integer >= 0.
"""

from __future__ import annotations

from typing import Any

from control_plane.api.names import Causes, check_label_key, check_labels, check_name
from control_plane.api.quantity import parse_quantity

RESTART_POLICIES = ("Always", "OnFailure", "Never")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TOLERATION_OPERATORS = ("Equal", "Exists")
SELECTOR_OPERATORS = ("DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn")
MAX_GRACE_SECONDS = 10 * 365 * 86400  # ten years: far beyond any use, far below overflow


def _unsupported(value: Any, allowed: tuple[str, ...]) -> str:
    return f'Unsupported value: "{value}": supported values: ' + ", ".join(f'"{a}"' for a in allowed)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def check_pod_spec(spec: Any, path: str, causes: Causes) -> None:
    """Append a cause for every invalid field of the PodSpec at `path`."""
    if not isinstance(spec, dict):
        causes.append((path, "Required value: spec is required"))
        return
    _containers(spec.get("containers"), f"{path}.containers", causes)
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in RESTART_POLICIES:
        causes.append((f"{path}.restartPolicy", _unsupported(policy, RESTART_POLICIES)))
    for field in ("nodeName", "schedulerName"):
        if spec.get(field) is not None and not isinstance(spec.get(field), str):
            causes.append((f"{path}.{field}", "Invalid value: expected string"))
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None and (not _is_int(grace) or not 0 <= grace <= MAX_GRACE_SECONDS):
        causes.append((f"{path}.terminationGracePeriodSeconds",
                       f"Invalid value: {grace!r}: must be an integer from 0 to {MAX_GRACE_SECONDS}"))
    _node_selector(spec.get("nodeSelector"), f"{path}.nodeSelector", causes)
    _tolerations(spec.get("tolerations"), f"{path}.tolerations", causes)
    _affinity(spec.get("affinity"), f"{path}.affinity", causes)


def _containers(containers: Any, path: str, causes: Causes) -> None:
    if not isinstance(containers, list) or not containers:
        causes.append((path, "Required value: at least one container is required"))
        return
    seen: set[str] = set()
    for i, c in enumerate(containers):
        cpath = f"{path}[{i}]"
        if not isinstance(c, dict):
            causes.append((cpath, "Invalid value: expected object"))
            continue
        name = c.get("name")
        check_name(name, f"{cpath}.name", True, causes)
        if isinstance(name, str):
            if name in seen:
                causes.append((f"{cpath}.name", f'Duplicate value: "{name}"'))
            seen.add(name)
        for arr in ("command", "args"):
            if c.get(arr) is not None and not _strings(c.get(arr)):
                causes.append((f"{cpath}.{arr}", "Invalid value: expected an array of strings"))
        for field in ("image", "workingDir"):
            if c.get(field) is not None and not isinstance(c.get(field), str):
                causes.append((f"{cpath}.{field}", "Invalid value: expected string"))
        _env(c.get("env"), f"{cpath}.env", causes)
        _resources(c.get("resources"), f"{cpath}.resources", causes)


def _env(env: Any, path: str, causes: Causes) -> None:
    if env is None:
        return
    if not isinstance(env, list):
        causes.append((path, "Invalid value: expected an array of objects"))
        return
    for j, item in enumerate(env):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item.get("name"):
            causes.append((f"{path}[{j}].name", "Required value"))
            continue
        if not isinstance(item.get("value", ""), str):
            causes.append((f"{path}[{j}].value", "Invalid value: expected string"))
        source = item.get("valueFrom")
        if source is not None and not isinstance(source, dict):
            causes.append((f"{path}[{j}].valueFrom", "Invalid value: expected object"))


def _resources(resources: Any, path: str, causes: Causes) -> None:
    if resources is None:
        return
    if not isinstance(resources, dict):
        causes.append((path, "Invalid value: expected object"))
        return
    for part in ("requests", "limits"):
        check_quantities(resources.get(part), f"{path}.{part}", causes)


def check_quantities(quantities: Any, path: str, causes: Causes) -> None:
    """A map of resource names to quantities (`cpu: 500m`), or absent."""
    if quantities is None:
        return
    if not isinstance(quantities, dict):
        causes.append((path, "Invalid value: expected a map of resource names to quantities"))
        return
    for rname, qty in quantities.items():
        try:
            parse_quantity(qty)
        except ValueError as err:
            causes.append((f"{path}.{rname}", f"Invalid value: {err}"))


def _node_selector(selector: Any, path: str, causes: Causes) -> None:
    if selector is not None and not isinstance(selector, dict):
        causes.append((path, "Invalid value: expected a map of strings"))
        return
    check_labels(selector, path, causes)


def _tolerations(tolerations: Any, path: str, causes: Causes) -> None:
    if tolerations is None:
        return
    if not isinstance(tolerations, list):
        causes.append((path, "Invalid value: expected an array of objects"))
        return
    for i, t in enumerate(tolerations):
        tpath = f"{path}[{i}]"
        if not isinstance(t, dict):
            causes.append((tpath, "Invalid value: expected object"))
            continue
        key, operator, value = t.get("key", ""), t.get("operator") or "Equal", t.get("value", "")
        if not isinstance(key, str) or (key and not check_label_key(key)):
            causes.append((f"{tpath}.key", f"Invalid value: {key!r}: not a valid label key"))
        if operator not in TOLERATION_OPERATORS:
            causes.append((f"{tpath}.operator", _unsupported(operator, TOLERATION_OPERATORS)))
        if not isinstance(value, str):
            causes.append((f"{tpath}.value", "Invalid value: expected string"))
        elif operator == "Exists" and value:
            causes.append((f"{tpath}.value", f'Invalid value: "{value}": value must be empty when '
                                             "`operator` is 'Exists'"))
        elif operator == "Equal" and not key:
            causes.append((f"{tpath}.operator", 'Invalid value: "Equal": operator must be Exists when `key` '
                                                'is empty, which means "match all values and all keys"'))
        effect = t.get("effect") or ""
        if effect and effect not in TAINT_EFFECTS:
            causes.append((f"{tpath}.effect", _unsupported(effect, TAINT_EFFECTS)))
        seconds = t.get("tolerationSeconds")
        if seconds is not None and not _is_int(seconds):
            causes.append((f"{tpath}.tolerationSeconds", "Invalid value: expected integer"))


def _affinity(affinity: Any, path: str, causes: Causes) -> None:
    if affinity is None:
        return
    if not isinstance(affinity, dict):
        causes.append((path, "Invalid value: expected object"))
        return
    node = affinity.get("nodeAffinity")
    if node is None:
        return
    npath = f"{path}.nodeAffinity"
    if not isinstance(node, dict):
        causes.append((npath, "Invalid value: expected object"))
        return
    required = node.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None:
        rpath = f"{npath}.requiredDuringSchedulingIgnoredDuringExecution"
        terms = required.get("nodeSelectorTerms") if isinstance(required, dict) else None
        if not isinstance(terms, list) or not terms:
            causes.append((f"{rpath}.nodeSelectorTerms", "Required value: must have at least one node "
                                                         "selector term"))
        else:
            for i, term in enumerate(terms):
                _selector_term(term, f"{rpath}.nodeSelectorTerms[{i}]", causes)
    preferred = node.get("preferredDuringSchedulingIgnoredDuringExecution")
    if preferred is not None:
        _preferred(preferred, f"{npath}.preferredDuringSchedulingIgnoredDuringExecution", causes)


def _preferred(preferred: Any, path: str, causes: Causes) -> None:
    if not isinstance(preferred, list):
        causes.append((path, "Invalid value: expected an array of objects"))
        return
    for i, item in enumerate(preferred):
        if not isinstance(item, dict):
            causes.append((f"{path}[{i}]", "Invalid value: expected object"))
            continue
        weight = item.get("weight")
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 100:
            causes.append((f"{path}[{i}].weight", "Invalid value: must be in the range 1-100"))
        _selector_term(item.get("preference"), f"{path}[{i}].preference", causes)


def _selector_term(term: Any, path: str, causes: Causes) -> None:
    if not isinstance(term, dict):
        causes.append((path, "Invalid value: expected object"))
        return
    for field in ("matchExpressions", "matchFields"):
        exprs = term.get(field)
        if exprs is None:
            continue
        if not isinstance(exprs, list):
            causes.append((f"{path}.{field}", "Invalid value: expected an array of objects"))
            continue
        for j, expr in enumerate(exprs):
            _requirement(expr, f"{path}.{field}[{j}]", causes)


def _requirement(expr: Any, path: str, causes: Causes) -> None:
    if not isinstance(expr, dict):
        causes.append((path, "Invalid value: expected object"))
        return
    key, operator, values = expr.get("key"), expr.get("operator"), expr.get("values")
    if not isinstance(key, str) or not check_label_key(key):
        causes.append((f"{path}.key", f"Invalid value: {key!r}: not a valid label key"))
    if operator not in SELECTOR_OPERATORS:
        causes.append((f"{path}.operator", _unsupported(operator, SELECTOR_OPERATORS)))
        return
    if values is not None and not _strings(values):
        causes.append((f"{path}.values", "Invalid value: expected an array of strings"))
        return
    values = values or []
    if operator in ("In", "NotIn") and not values:
        causes.append((f"{path}.values", "Required value: must be specified when `operator` is 'In' or "
                                         "'NotIn'"))
    elif operator in ("Exists", "DoesNotExist") and values:
        causes.append((f"{path}.values", "Forbidden: may not be specified when `operator` is 'Exists' or "
                                         "'DoesNotExist'"))
    elif operator in ("Gt", "Lt") and (len(values) != 1 or not values[0].lstrip("-").isdigit()):
        causes.append((f"{path}.values", "Required value: must be specified single value when `operator` "
                                         "is 'Lt' or 'Gt'"))
