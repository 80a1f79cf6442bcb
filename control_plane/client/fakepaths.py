"""What the in-memory API (`fake.FakeApiClient`) reads from a URL path, its Status
errors, and its selectors (the API's own grammar)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from control_plane.api import selectors
from control_plane.api.objects import Obj
from control_plane.api.resources import BY_PATH, Resource
from control_plane.client.errors import StatusError

Key = tuple[str, str, str]  # (plural, namespace or "", name)


@dataclass(frozen=True)
class Target:
    """What a URL path names: a collection (`name` None) or one object, maybe a subresource."""

    res: Resource
    namespace: str | None
    name: str | None = None
    sub: str | None = None

    def key(self, name: str | None = None) -> Key:
        return (self.res.plural, self.namespace or "", name or self.name or "")

    def holds(self, key: Key) -> bool:
        """Whether the object at `key` is in this collection (all namespaces without one)."""
        return key[0] == self.res.plural and (not self.namespace or key[1] == self.namespace)


def status_error(code: int, reason: str, message: str, details: Obj | None = None) -> StatusError:
    """A `StatusError` carrying the Status body the API server would send."""
    body: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                 "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return StatusError(code, reason, message, body)


def parse_path(path: str) -> Target:
    """`/api/v1/namespaces/ns/pods/name[/sub]` and friends; 404 for what the API does not serve."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise status_error(404, "NotFound", f"the server could not find the requested resource ({path})")
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    res = BY_PATH.get((group, version, rest[0]))
    if res is None or len(rest) > 3 or (namespace is not None and not res.namespaced):
        raise status_error(404, "NotFound", f"the server could not find the requested resource ({path})")
    return Target(res, namespace, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None)


def matcher(label: str | None, field: str | None) -> Callable[[Obj], bool]:
    """The API's own selector grammar (`api.selectors`); 400 for what does not parse."""
    try:
        by_label, by_field = selectors.label_selector(label), selectors.field_selector(field)
    except selectors.SelectorError as err:
        raise status_error(400, "BadRequest", str(err)) from None
    return lambda obj: by_label(obj) and by_field(obj)
