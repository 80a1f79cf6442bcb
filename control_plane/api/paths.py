"""URL paths of API resources: `pods` in `default` -> `/api/v1/namespaces/default/pods`."""

from __future__ import annotations

from control_plane.api.resources import BY_PATH, Resource

ALIASES = {"po": "pods", "pod": "pods", "no": "nodes", "node": "nodes", "deploy": "deployments",
           "deployment": "deployments", "svc": "services", "service": "services", "ev": "events",
           "event": "events", "ns": "namespaces", "namespace": "namespaces", "lease": "leases"}
BY_PLURAL = {r.plural: r for r in BY_PATH.values()}
BY_KIND = {r.kind: r for r in BY_PATH.values()}


def resource(name: str) -> Resource:
    """The resource for a plural, a short name or a singular (`pods`, `po`, `pod`)."""
    plural = ALIASES.get(name.lower(), name.lower())
    if plural not in BY_PLURAL:
        known = ", ".join(sorted(BY_PLURAL))
        raise KeyError(f'unknown resource type "{name}" (known: {known})')
    return BY_PLURAL[plural]


def path(res: Resource, namespace: str | None = None, name: str | None = None,
         sub: str | None = None) -> str:
    """The collection path (no name) or the object path; a namespace only for namespaced kinds."""
    base = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
    if res.namespaced and namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{res.plural}"
    if name:
        base += f"/{name}"
    if sub:
        base += f"/{sub}"
    return base
