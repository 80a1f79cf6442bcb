"""Where objects live in the store: `/registry/<group or core>/<plural>/[<ns>/]<name>`.

The URL side of a resource is `control_plane.api.resources`; the keys are the API
server's business alone (only it talks to the store), as in Kubernetes' registry.
"""

from __future__ import annotations

from control_plane.api.resources import Resource


def prefix(res: Resource, namespace: str | None = None) -> bytes:
    """Store key prefix of all objects of `res` (of one namespace, if given)."""
    base = f"/registry/{res.group or 'core'}/{res.plural}/"
    if res.namespaced and namespace:
        base += f"{namespace}/"
    return base.encode()


def key(res: Resource, namespace: str | None, name: str) -> bytes:
    """The store key of one object (`namespace` is ignored for cluster-scoped kinds)."""
    return prefix(res, namespace if res.namespaced else None) + name.encode()
