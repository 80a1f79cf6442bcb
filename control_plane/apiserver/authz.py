"""Authorization: may this identity do this verb on this object (roles, and Kubernetes'
NodeRestriction for nodes).  Pure: the caller reads the stored object first.

Roles: `admin` (everything), `viewer` (read only), `node` (reads; writes only to its own
Node and Lease, pods bound to it, events), `bootstrap` (nothing here: it may only
exchange itself for a node credential).
"""

from __future__ import annotations

from typing import Any

from control_plane.api.resources import Resource
from control_plane.apiserver.authn import Identity
from control_plane.apiserver.errors import ApiError

READ_VERBS = {"get", "list", "watch"}


def forbidden(who: Identity, verb: str, what: str) -> ApiError:
    return ApiError(403, "Forbidden", f'{who.name} cannot {verb} {what}')


def authorize(who: Identity, verb: str, res: Resource, ns: str | None, name: str | None,
              current: dict[str, Any] | None, new: Any) -> None:
    """Raise 403 unless `who` may do `verb` on the object (`current`: its stored state)."""
    what = f"{res.plural}{'/' + name if name else ''}{' in ' + ns if ns else ''}"
    if who.role == "admin":
        return
    if who.role == "viewer":
        if verb in READ_VERBS:
            return
        raise forbidden(who, verb, what)
    if who.role == "bootstrap":
        raise forbidden(who, verb, what)
    # role == node: reads everywhere, writes only to what belongs to this node.
    if verb in READ_VERBS or _node_may_write(who.node or "", verb, res, ns, name, current, new):
        return
    raise forbidden(who, verb, what)


def _node_may_write(node: str, verb: str, res: Resource, ns: str | None, name: str | None,
                    current: dict[str, Any] | None, new: Any) -> bool:
    """Kubernetes' NodeRestriction, for the kinds Skiff has."""
    if res.kind == "Node":
        return name == node or (verb == "create" and _name(new) == node)
    if res.kind == "Lease":
        return ns == "kube-node-lease" and (name == node or (verb == "create" and _name(new) == node))
    if res.kind == "Event":
        return verb == "create"
    if res.kind == "Pod":
        if verb == "create":  # mirror pods of the node's static pods
            return _node_of(new) == node
        return _node_of(current) == node and (verb == "delete" or _node_of(new) in (node, None))
    return False


def _name(obj: Any) -> str | None:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return meta.get("name") if isinstance(meta, dict) else None


def _node_of(obj: Any) -> str | None:
    spec = obj.get("spec") if isinstance(obj, dict) else None
    return spec.get("nodeName") if isinstance(spec, dict) else None
