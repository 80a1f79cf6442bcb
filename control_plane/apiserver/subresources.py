"""Subresources: `status`, `binding`, `eviction`, `scale` — each a narrow write.

- `PUT .../status` (pods, nodes, deployments): replaces only `.status`; spec and
  metadata stay as stored.  A resourceVersion in the body is a precondition.
- `POST pods/NAME/binding` (a `Binding` with `target.name`): sets `spec.nodeName` with
  a compare-and-set; a pod that is already bound answers 409, so two schedulers can
  never bind one pod twice.
- `POST pods/NAME/eviction`: a graceful delete (there are no disruption budgets yet).
- `GET|PUT deployments/NAME/scale`: the `Scale` view of `spec.replicas`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from control_plane.api.names import check_name
from control_plane.api.objects import Obj
from control_plane.api.resources import Resource
from control_plane.apiserver.errors import ApiError, bad_request, conflict, invalid
from control_plane.apiserver.handlers import PATCH_RETRIES, Handlers, now_rfc3339, parse_rv
from control_plane.apiserver.validation import validate_status

ALLOWED = {("pods", "log"),
           ("pods", "status"), ("nodes", "status"), ("deployments", "status"), ("pods", "binding"),
           ("pods", "eviction"), ("deployments", "scale")}


def check(res: Resource, sub: str) -> None:
    if (res.plural, sub) not in ALLOWED:
        raise ApiError(404, "NotFound", f"the server could not find the requested resource "
                                        f"({res.plural}/{sub})")


def put_status(h: Handlers, res: Resource, ns: str | None, name: str, body: Any) -> Obj:
    if not isinstance(body, dict) or not isinstance(body.get("status", {}), dict):
        raise invalid(res.kind, name, [("status", "Invalid value: expected an object")])
    validate_status(res, name, body.get("status", {}))
    expect = parse_rv((body.get("metadata") or {}).get("resourceVersion"), "metadata.resourceVersion")

    def change(current: Obj) -> Obj:
        updated = copy.deepcopy(current)
        updated["status"] = body.get("status", {})
        return updated

    return _write(h, res, ns, name, expect, change)


def _write(h: Handlers, res: Resource, ns: str | None, name: str, expect: int | None,
           change: Callable[[Obj], Obj]) -> Obj:
    """Read, change, compare-and-set.  With the client's resourceVersion (`expect`) a
    stale one is 409; without, a concurrent writer only makes it read again (the
    first read is local, the retries linearizable), as Kubernetes does."""
    for attempt in range(PATCH_RETRIES):
        current = h.store.get(res, ns, name, serializable=attempt == 0 and expect is None)
        try:
            version = expect or int(current["metadata"]["resourceVersion"])
            return h.store.update(res, ns, change(current), version)
        except ApiError as err:
            if err.reason != "Conflict" or expect is not None:
                raise
    raise ApiError(409, "Conflict", f'{res.plural} "{name}": too many concurrent changes, try again')


def bind(h: Handlers, res: Resource, ns: str | None, name: str, body: Any) -> Obj:
    target = body.get("target") if isinstance(body, dict) else None
    node = target.get("name") if isinstance(target, dict) else None
    causes: list[tuple[str, str]] = []
    check_name(node, "target.name", False, causes)
    if causes:
        raise invalid("Binding", name, causes)
    # First from the local member (cheap, maybe stale), then, if the compare-and-set
    # says it was stale, from the leader: a stale read can cost a retry, never a
    # double binding.
    for serializable in (True, False):
        current = h.store.get(res, ns, name, serializable=serializable)
        if (current.get("spec") or {}).get("nodeName"):
            raise ApiError(409, "Conflict", f'pod {name} is already assigned to node '
                                            f'"{current["spec"]["nodeName"]}"')
        if current["metadata"].get("deletionTimestamp"):
            raise conflict(res.plural, name)
        current["spec"]["nodeName"] = node
        status = current.setdefault("status", {})
        status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        status["conditions"].append({"type": "PodScheduled", "status": "True",
                                     "lastTransitionTime": now_rfc3339()})
        try:  # compare-and-set on the version we read: a concurrent binder makes this 409
            h.store.update(res, ns, current, int(current["metadata"]["resourceVersion"]))
        except ApiError as err:
            if err.reason != "Conflict" or not serializable:
                raise
            continue
        break
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def evict(h: Handlers, res: Resource, ns: str | None, name: str, body: Any) -> Obj:
    grace = None
    options = body.get("deleteOptions") if isinstance(body, dict) else None
    if isinstance(options, dict) and options.get("gracePeriodSeconds") is not None:
        grace = options["gracePeriodSeconds"]
        if not isinstance(grace, int) or isinstance(grace, bool) or grace < 0:
            raise bad_request("deleteOptions.gracePeriodSeconds must be a non-negative integer")
    h.delete(res, ns, name, grace)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def get_scale(h: Handlers, res: Resource, ns: str | None, name: str) -> Obj:
    dep = h.store.get(res, ns, name)
    return _scale(dep)


def put_scale(h: Handlers, res: Resource, ns: str | None, name: str, body: Any) -> Obj:
    replicas = (body.get("spec") or {}).get("replicas") if isinstance(body, dict) else None
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise invalid("Scale", name, [("spec.replicas", "Invalid value: must be an integer >= 0")])
    expect = parse_rv((body.get("metadata") or {}).get("resourceVersion"), "metadata.resourceVersion")

    def change(dep: Obj) -> Obj:
        dep["spec"]["replicas"] = replicas
        dep["metadata"]["generation"] = int(dep["metadata"].get("generation") or 1) + 1
        return dep

    return _scale(_write(h, res, ns, name, expect, change))


def _scale(dep: Obj) -> Obj:
    meta = dep["metadata"]
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": meta["name"], "namespace": meta.get("namespace"),
                         "resourceVersion": meta["resourceVersion"], "uid": meta.get("uid")},
            "spec": {"replicas": dep["spec"].get("replicas", 1)},
            "status": {"replicas": (dep.get("status") or {}).get("replicas", 0)}}
