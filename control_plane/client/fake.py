"""`FakeApiClient`: an in-memory API server behind `ApiClient`'s verbs, for unit tests.

It is the in-memory implementation of the API client seam (`interface.Api`; mypy checks
that it conforms): pass it where a component takes an `Api`.

What it does as Skiff's API server does:
- One global, increasing revision; every write gives the object the next one as its
  `metadata.resourceVersion` (a list carries the current revision).
- `create`: 409 `AlreadyExists` for a taken name; sets `uid`, `creationTimestamp` (from
  the injected clock), `generation` 1, `namespace` (from the path), `kind`/`apiVersion`,
  and `status.phase: Pending` for pods; honours `metadata.generateName`.
- `replace`: 404 when absent; a `metadata.resourceVersion` in the body is a
  compare-and-set (409 `Conflict` when stale), without one the write is unconditional;
  `uid`, `creationTimestamp` and the deletion fields are kept; Pods, Nodes and
  Deployments keep their stored status (it changes only through `PUT .../status`,
  which replaces the status alone); `generation` counts changes of `spec`.
- `patch`: a JSON merge patch (RFC 7386) applied to the latest version.
- `delete`: 404 when absent, else the object is gone at once.
- `watch`: events strictly after `resource_version` (with none or "0", the current
  objects first as ADDED), then new ones as they happen, until `timeout_seconds` pass
  (real time, as the server's `timeoutSeconds`); 410 `Expired` for a compacted version.
- Errors are `StatusError`s with the server's codes, reasons and Status bodies.

What it leaves out: JSON patches and subresources other than `status` (a call that
needs them raises `NotImplementedError`, so a test learns at once); and, silently,
graceful deletion (a pod bound to a node is deleted at once), namespaces (none needs
to exist; deleting one deletes nothing else), BOOKMARK events, validation and
authentication.  Selectors are the API's own grammar (`api.selectors`); one that does not
parse is a 400.

Test controls: `fail_next(verb, error)` makes the next call(s) of a verb raise;
`before_next(verb, action)` runs `action` just before the next call of a verb (a
concurrent writer between a component's read and its write); `break_watches(error)`
makes open and new watches raise until `heal_watches()`; `end_watches()` closes open
streams normally (a server timeout); `compact()` forgets history (later watches from
before it get 410); `calls` records every `(verb, path)` (`count` counts them);
`wait(predicate, timeout)` and `wait_watching(n, timeout)` wait on a condition instead of
sleeping.  `close()` ends every stream; afterwards each call raises `Unreachable`.

Thread-safe: one lock guards everything; hooks run outside it; watches yield outside it.
"""

from __future__ import annotations

import bisect
import copy
import threading
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from control_plane.api.mergepatch import merge
from control_plane.api.objects import Obj
from control_plane.client.clock import Clock, SystemClock, rfc3339
from control_plane.client.errors import ApiClientError, Unreachable
from control_plane.client.fakepaths import Key, Target, matcher, parse_path, status_error
from control_plane.client.interface import Api

STATUS_KINDS = ("Pod", "Node", "Deployment")  # status only through the status subresource
VERBS = ("get", "list", "create", "replace", "patch", "delete", "watch")
Objs = list[Obj]  # (`list` inside the class is the verb)


@dataclass(frozen=True)
class _Event:
    rev: int
    type: str
    key: Key
    obj: Obj


class FakeApiClient:
    """An in-memory stand-in for `ApiClient` (see the module docstring for its contract)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.calls: list[tuple[str, str]] = []
        self._objects: dict[Key, Obj] = {}
        self._log: list[_Event] = []
        self._rev = 0
        self._compacted = 0
        self._cond = threading.Condition()
        self._failures: dict[str, list[ApiClientError]] = {}
        self._hooks: dict[str, list[Callable[[], object]]] = {}
        self._watch_error: ApiClientError | None = None
        self._epoch = 0  # bumped by end_watches(): streams opened before it end
        self._watching = 0
        self._closed = False

    # ---- test controls --------------------------------------------------------------
    def fail_next(self, verb: str, error: ApiClientError, times: int = 1) -> None:
        """The next `times` calls of `verb` raise `error` (after any `before_next` action)."""
        self._check_verb(verb)
        with self._cond:
            self._failures.setdefault(verb, []).extend([error] * times)

    def before_next(self, verb: str, action: Callable[[], object]) -> None:
        """Run `action` once, just before the next call of `verb` does anything."""
        self._check_verb(verb)
        with self._cond:
            self._hooks.setdefault(verb, []).append(action)

    def break_watches(self, error: ApiClientError) -> None:
        """Open watches raise `error` before delivering more, new ones too, until healed."""
        with self._cond:
            self._watch_error = error
            self._cond.notify_all()

    def heal_watches(self) -> None:
        with self._cond:
            self._watch_error = None

    def end_watches(self) -> None:
        """Close the open streams normally, as the server does after `timeoutSeconds`."""
        with self._cond:
            self._epoch += 1
            self._cond.notify_all()

    def compact(self) -> int:
        """Forget the history up to now (returned): a watch from an older version gets 410."""
        with self._cond:
            self._compacted = self._rev
            self._log.clear()
            self._cond.notify_all()
            return self._rev

    def watching(self) -> int:
        """How many watch streams are open now."""
        with self._cond:
            return self._watching

    def wait_watching(self, count: int, timeout: float) -> bool:
        """`wait` until at least `count` streams are open."""
        return self.wait(lambda: self._watching >= count, timeout)

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait (real time, at most `timeout`) until `predicate()` holds; it is checked under
        the fake's (reentrant) lock after every call, write and stream change."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def count(self, verb: str, path: str | None = None) -> int:
        """How many calls of `verb` (on `path`, if given) were made."""
        with self._cond:
            return sum(1 for v, p in self.calls if v == verb and (path is None or p == path))

    @property
    def revision(self) -> int:
        with self._cond:
            return self._rev

    def close(self) -> None:
        """End every stream; from now on every call raises `Unreachable`."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # ---- verbs (ApiClient's signatures) -----------------------------------------------
    def get(self, path: str, params: dict[str, str] | None = None, timeout: float | None = None) -> Obj:
        self._enter("get", path)
        target = parse_path(path)
        if target.name is None:
            return self._list(target, None, None)
        with self._cond:
            return copy.deepcopy(self._current(target))

    def list(self, path: str, label: str | None = None, field: str | None = None) -> Obj:
        self._enter("list", path)
        return self._list(parse_path(path), label, field)

    def create(self, path: str, obj: Obj) -> Obj:
        self._enter("create", path)
        target = parse_path(path)
        if target.name is not None:
            raise NotImplementedError(f"the fake API has no POST on {path}")
        if target.res.namespaced and not target.namespace:
            raise status_error(400, "BadRequest", "a namespace is required")
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        if not meta.get("name") and isinstance(meta.get("generateName"), str):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            message = f'{target.res.kind} "" is invalid: metadata.name: Required value'
            cause = {"reason": "FieldValueInvalid", "field": "metadata.name", "message": "Required value"}
            details = {"kind": target.res.kind, "name": "", "causes": [cause]}
            raise status_error(422, "Invalid", message, details)
        meta.pop("resourceVersion", None)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=rfc3339(self.clock.time()), generation=1)
        if target.res.namespaced:
            meta["namespace"] = target.namespace
        new["kind"], new["apiVersion"] = target.res.kind, target.res.api_version
        if target.res.kind == "Pod":
            new.setdefault("status", {}).setdefault("phase", "Pending")
        with self._cond:
            key = target.key(name)
            if key in self._objects:
                raise status_error(409, "AlreadyExists", f'{target.res.plural} "{name}" already exists',
                                   {"name": name, "kind": target.res.plural})
            return self._write("ADDED", key, new)

    def replace(self, path: str, obj: Obj) -> Obj:
        self._enter("replace", path)
        target = parse_path(path)
        if target.name is None:
            raise NotImplementedError(f"the fake API has no PUT on {path}")
        if target.sub not in (None, "status"):
            raise NotImplementedError(f"the fake API has no subresource {target.sub!r}")
        expect = (obj.get("metadata") or {}).get("resourceVersion")
        with self._cond:
            current = self._current(target)
            if expect and str(expect) != current["metadata"]["resourceVersion"]:
                raise status_error(409, "Conflict", f'Operation cannot be fulfilled on {target.res.plural} '
                                   f'"{target.name}": the object has been modified; please apply your '
                                   "changes to the latest version and try again",
                                   {"name": target.name, "kind": target.res.plural})
            if target.sub == "status":
                new = copy.deepcopy(current)
                new["status"] = copy.deepcopy(obj.get("status") or {})
            else:
                new = self._carry(target, current, obj)
            return self._write("MODIFIED", target.key(), new)

    def patch(self, path: str, body: Any, json_patch: bool = False) -> Obj:
        self._enter("patch", path)
        target = parse_path(path)
        if json_patch:
            raise NotImplementedError("the fake API applies merge patches only")
        if target.name is None or target.sub is not None:
            raise NotImplementedError(f"the fake API has no PATCH on {path}")
        if not isinstance(body, dict):
            raise status_error(400, "BadRequest", "a merge patch must be a JSON object")
        with self._cond:
            current = self._current(target)
            new = self._carry(target, current, merge(current, body))
            return self._write("MODIFIED", target.key(), new)

    def delete(self, path: str, grace: int | None = None) -> Obj:
        self._enter("delete", path)
        target = parse_path(path)
        if target.name is None or target.sub is not None:
            raise NotImplementedError(f"the fake API has no DELETE on {path}")
        with self._cond:
            current = self._current(target)
            del self._objects[target.key()]
            return self._write("DELETED", target.key(), current, store=False)

    def watch(self, path: str, resource_version: str | None, timeout_seconds: int = 300,
              label: str | None = None, field: str | None = None) -> Generator[Obj, None, None]:
        """Like `ApiClient.watch` (a generator: errors surface at the first `next`)."""
        self._enter("watch", path)
        target, match = parse_path(path), matcher(label, field)
        deadline = time.monotonic() + timeout_seconds
        with self._cond:
            if self._watch_error is not None:
                raise self._watch_error
            cursor = int(resource_version or 0)
            if cursor and cursor < self._compacted:
                raise status_error(410, "Expired", f"too old resource version: {cursor} ({self._compacted})")
            backlog: Objs = []
            if not cursor:  # no version: the current objects first, as ADDED
                cursor = self._rev
                backlog = [{"type": "ADDED", "object": o} for o in self._matching(target, match)]
            epoch = self._epoch
            self._watching += 1
            self._cond.notify_all()
        try:
            yield from backlog
            while (batch := self._next_events(target, match, cursor, epoch, deadline)) is not None:
                cursor, events = batch
                yield from events
        finally:
            with self._cond:
                self._watching -= 1
                self._cond.notify_all()

    def _next_events(self, target: Target, match: Callable[[Obj], bool], cursor: int, epoch: int,
                     deadline: float) -> tuple[int, Objs] | None:
        """Wait for the stream's next events after revision `cursor`: (the new cursor, the
        events), or None when the stream ends; raises what a broken stream raises."""
        with self._cond:
            while not (self._closed or self._epoch != epoch or time.monotonic() >= deadline):
                if self._watch_error is not None:
                    raise self._watch_error
                if cursor < self._compacted:
                    raise status_error(410, "Expired", "too old resource version: the watch fell behind "
                                       "a compaction")
                start = bisect.bisect_right(self._log, cursor, key=lambda e: e.rev)
                events = [{"type": e.type, "object": copy.deepcopy(e.obj)} for e in self._log[start:]
                          if target.holds(e.key) and match(e.obj)]
                cursor = self._rev
                if events:
                    return cursor, events
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            return None

    # ---- plumbing -----------------------------------------------------------------------
    @staticmethod
    def _check_verb(verb: str) -> None:
        if verb not in VERBS:
            raise ValueError(f"unknown verb {verb!r} (one of {', '.join(VERBS)})")

    def _enter(self, verb: str, path: str) -> None:
        with self._cond:
            self.calls.append((verb, path))
            self._cond.notify_all()
            hooks = self._hooks.get(verb) or []
            action = hooks.pop(0) if hooks else None
        if action is not None:
            action()
        with self._cond:
            if self._closed:
                raise Unreachable(f"{verb} {path}: the fake API client is closed")
            failures = self._failures.get(verb) or []
            if failures:
                raise failures.pop(0)

    def _current(self, target: Target) -> Obj:
        obj = self._objects.get(target.key())
        if obj is None:
            raise status_error(404, "NotFound", f'{target.res.plural} "{target.name}" not found',
                               {"name": target.name, "kind": target.res.plural})
        return obj

    def _carry(self, target: Target, current: Obj, body: Obj) -> Obj:
        """What a client cannot change on update: identity, creation, deletion, status."""
        new = copy.deepcopy(body)
        meta = new.setdefault("metadata", {})
        if meta.get("name", target.name) != target.name:
            raise status_error(400, "BadRequest", f"the name of the object ({meta.get('name')}) does not "
                               f"match the name on the URL ({target.name})")
        meta["name"] = target.name
        for field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if field in current["metadata"]:
                meta[field] = current["metadata"][field]
        if target.res.kind in STATUS_KINDS:
            new.pop("status", None)
            if "status" in current:
                new["status"] = copy.deepcopy(current["status"])
        generation = int(current["metadata"].get("generation") or 1)
        meta["generation"] = generation + 1 if new.get("spec") != current.get("spec") else generation
        if target.res.namespaced:
            meta["namespace"] = target.namespace
        new["kind"], new["apiVersion"] = target.res.kind, target.res.api_version
        return new

    def _write(self, kind: str, key: Key, obj: Obj, store: bool = True) -> Obj:
        """Give `obj` the next revision, keep it (unless deleted), log the event, wake watches."""
        self._rev += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self._rev)
        if store:
            self._objects[key] = obj
        self._log.append(_Event(self._rev, kind, key, obj))
        self._cond.notify_all()
        return copy.deepcopy(obj)

    def _list(self, target: Target, label: str | None, field: str | None) -> Obj:
        with self._cond:
            items, rev = self._matching(target, matcher(label, field)), self._rev
        return {"kind": target.res.list_kind, "apiVersion": target.res.api_version,
                "metadata": {"resourceVersion": str(rev)}, "items": items}

    def _matching(self, target: Target, match: Callable[[Obj], bool]) -> Objs:
        return [copy.deepcopy(o) for k, o in sorted(self._objects.items()) if target.holds(k) and match(o)]


if TYPE_CHECKING:  # the fake implements the seam, checked by mypy
    _conforms: type[Api] = FakeApiClient
