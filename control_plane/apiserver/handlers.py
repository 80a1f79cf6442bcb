"""REST verbs over `ObjectStore`: what the API does, independent of HTTP plumbing.

Synchronous and thread-safe: the app runs them in a worker thread per request.
"""

from __future__ import annotations

import copy
import datetime
import secrets
import uuid
from collections.abc import Generator
from contextlib import closing
from typing import Any

from control_plane.api.objects import Obj, grace_seconds
from control_plane.api.resources import INITIAL_NAMESPACES, NAMESPACES, RESOURCES, Resource
from control_plane.apiserver import keys
from control_plane.apiserver import patch as patching
from control_plane.apiserver.errors import ApiError, bad_request
from control_plane.apiserver.selectors import Matcher, field_selector, label_selector
from control_plane.apiserver.storage import ObjectStore, WatchEvent
from control_plane.apiserver.validation import validate

PATCH_RETRIES = 8
STATUS_KINDS = ("Pod", "Node", "Deployment")


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rv(value: Any, field: str = "resourceVersion") -> int | None:
    if value in (None, "", "0"):
        return None
    try:
        rv = int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {field}: {value!r}") from None
    if rv < 0:
        raise bad_request(f"invalid {field}: {value!r}")
    return rv


class Handlers:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def bootstrap(self) -> None:
        """Create the namespaces every cluster has (idempotent)."""
        for name in INITIAL_NAMESPACES:
            try:
                self.create(NAMESPACES, None, {"metadata": {"name": name}})
            except ApiError as err:
                if err.code != 409:
                    raise

    # ---- reads --------------------------------------------------------------------
    def get(self, res: Resource, ns: str | None, name: str) -> Obj:
        return self._with_kind(res, self.store.get(res, ns, name))

    def list_objects(self, res: Resource, ns: str | None, label: str | None, field: str | None,
             resource_version: str | None) -> Obj:
        match = _matcher(label, field)
        items, revision = self.store.list_objects(res, ns, parse_rv(resource_version) or 0)
        return {"kind": res.list_kind, "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(revision)},
                "items": [self._with_kind(res, o) for o in items if match(o)]}

    def start_watch(self, res: Resource, ns: str | None, label: str | None, field: str | None,
                    resource_version: str | None) -> tuple[list[WatchEvent], int]:
        """Where a watch starts: the revision to follow from, and the synthetic ADDED
        events for the current objects when no resourceVersion was given (Kubernetes'
        semantics).  Bad selectors are 400 and a compacted resourceVersion 410, before
        any event is streamed."""
        match = _matcher(label, field)
        after = parse_rv(resource_version)
        if after is not None:
            self.store.check_revision(res, ns, after)
            return [], after
        items, revision = self.store.list_objects(res, ns)
        added = [WatchEvent("ADDED", self._with_kind(res, o), revision) for o in items if match(o)]
        return added, revision

    def watch(self, res: Resource, ns: str | None, label: str | None, field: str | None, after: int,
              deadline: float) -> Generator[WatchEvent, None, None]:
        """Events after revision `after` that match the selectors, until `deadline`."""
        match = _matcher(label, field)
        with closing(self.store.watch(res, ns, after, deadline)) as events:
            for ev in events:
                if match(ev.obj):
                    self._with_kind(res, ev.obj)
                    yield ev

    # ---- writes -------------------------------------------------------------------
    def create(self, res: Resource, ns: str | None, obj: Any) -> Obj:
        if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
            meta = obj["metadata"]
            if not meta.get("name") and isinstance(meta.get("generateName"), str):
                meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        validate(res, obj, ns)
        if res.namespaced and not ns:
            raise bad_request("a namespace is required")
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        meta.pop("resourceVersion", None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        if res.namespaced:
            meta["namespace"] = ns
        obj["kind"], obj["apiVersion"] = res.kind, res.api_version
        if res.kind == "Pod":
            obj.setdefault("status", {}).setdefault("phase", "Pending")
        ns_key = keys.key(NAMESPACES, None, ns) if res.namespaced and ns else None
        return self.store.create(res, ns, obj, ns_key)

    def replace(self, res: Resource, ns: str | None, name: str, obj: Any) -> Obj:
        validate(res, obj, ns)
        if obj["metadata"]["name"] != name:
            raise bad_request(f'the name of the object ({obj["metadata"]["name"]}) does not match the '
                              f"name on the URL ({name})")
        current = self.store.get(res, ns, name)
        return self.store.update(res, ns, self._carry(res, ns, current, obj),
                                 parse_rv(obj["metadata"].get("resourceVersion"), "metadata.resourceVersion"))

    def patch(self, res: Resource, ns: str | None, name: str, body: Any, content_type: str) -> Obj:
        """Apply a merge or JSON patch to the latest version, retrying on conflicts."""
        for attempt in range(PATCH_RETRIES):
            # The first read is local (maybe stale); the compare-and-set catches that.
            current = self.store.get(res, ns, name, serializable=attempt == 0)
            patched = patching.apply(current, body, content_type)
            validate(res, patched, ns)
            try:
                return self.store.update(res, ns, self._carry(res, ns, current, patched),
                                         int(current["metadata"]["resourceVersion"]))
            except ApiError as err:
                if err.reason != "Conflict":
                    raise
        raise ApiError(409, "Conflict", f'{res.plural} "{name}": too many concurrent changes, try again')

    def delete(self, res: Resource, ns: str | None, name: str, grace: int | None) -> Obj:
        if res is NAMESPACES:
            self._empty_namespace(name)
        current = self.store.get(res, ns, name)
        if res.kind == "Pod" and grace != 0 and current["metadata"].get("deletionTimestamp"):
            return self._with_kind(res, current)  # already terminating: the agent confirms
        if (res.kind == "Pod" and grace != 0 and (current.get("spec") or {}).get("nodeName")
                and not current["metadata"].get("deletionTimestamp")):
            # A running pod is only marked; its node's agent stops it and then deletes it.
            seconds = grace if grace is not None else grace_seconds(current)
            current["metadata"]["deletionTimestamp"] = now_rfc3339()
            current["metadata"]["deletionGracePeriodSeconds"] = seconds
            return self._with_kind(res, self.store.update(res, ns, current,
                                                          int(current["metadata"]["resourceVersion"])))
        return self._with_kind(res, self.store.delete(res, ns, name))

    # ---- helpers ------------------------------------------------------------------
    def _carry(self, res: Resource, ns: str | None, current: Obj, new: Obj) -> Obj:
        """Fields a client cannot change: identity and creation time."""
        new = copy.deepcopy(new)
        meta = new["metadata"]
        for field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if field in current["metadata"]:
                meta[field] = current["metadata"][field]
        if res.kind in STATUS_KINDS:  # status changes only through the status subresource
            new.pop("status", None)
            if "status" in current:
                new["status"] = copy.deepcopy(current["status"])
        # generation counts changes of the desired state (spec), not of status or metadata
        generation = int(current["metadata"].get("generation") or 1)
        meta["generation"] = generation + 1 if new.get("spec") != current.get("spec") else generation
        if res.namespaced:
            meta["namespace"] = ns
        new["kind"], new["apiVersion"] = res.kind, res.api_version
        return new

    def _empty_namespace(self, ns: str) -> None:
        for res in RESOURCES:
            if res.namespaced:
                items, _ = self.store.list_objects(res, ns)
                for obj in items:
                    try:
                        self.store.delete(res, ns, obj["metadata"]["name"])
                    except ApiError as err:
                        if not err.is_not_found:
                            raise

    @staticmethod
    def _with_kind(res: Resource, obj: Obj) -> Obj:
        obj["kind"], obj["apiVersion"] = res.kind, res.api_version
        return obj


def _matcher(label: str | None, field: str | None) -> Matcher:
    by_label, by_field = label_selector(label), field_selector(field)
    return lambda o: by_label(o) and by_field(o)
