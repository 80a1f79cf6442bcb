"""List + watch one resource into a local cache, Kubernetes' informer in small.

Contract:
- A background thread lists, then watches from the list's resourceVersion; when the
  watch ends it resumes from the last version seen; on 410 Gone or an error it lists
  again (after a back-off) and reports the differences as events, so a handler sees
  every object's latest state, deletions included, even across API server failover.
- `handler(type, obj)` runs on the informer's thread, in order, after the cache is
  updated; it must be quick (enqueue a key, do not call the API).
- `synced` is set after the first full list.  Thread-safe reads: `items()`, `get()`.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from contextlib import closing

from control_plane.api import paths
from control_plane.api.objects import Obj, object_key
from control_plane.api.resources import Resource
from control_plane.client.errors import ApiClientError, StatusError
from control_plane.client.interface import Api

log = logging.getLogger(__name__)
Handler = Callable[[str, Obj], None]
WATCH_SECONDS = 300




class Informer:
    def __init__(self, client: Api, res: Resource, namespace: str | None = None,
                 field: str | None = None, label: str | None = None,
                 handler: Handler | None = None) -> None:
        self.client, self.res = client, res
        self.path = paths.path(res, namespace)
        self.field, self.label = field, label
        self.handlers: list[Handler] = [handler] if handler else []
        self.synced = threading.Event()
        self._cache: dict[str, Obj] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"informer-{res.plural}", daemon=True)

    def start(self) -> Informer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def items(self) -> list[Obj]:
        with self._lock:
            return list(self._cache.values())

    def get(self, key: str) -> Obj | None:
        with self._lock:
            return self._cache.get(key)

    # ---- the loop ---------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.2
        rv: str | None = None
        while not self._stop.is_set():
            try:
                if rv is None:
                    rv = self._relist()
                    self.synced.set()
                rv = self._watch(rv)
                backoff = 0.2
            except StatusError as err:
                if err.code != 410:
                    log.warning("%s watch: %s", self.res.plural, err.message)
                rv = None
            except ApiClientError as err:
                log.info("%s informer: %s; listing again", self.res.plural, err.message)
                rv = None
            if rv is None:
                self._stop.wait(backoff * (1 + random.random()))
                backoff = min(backoff * 2, 5.0)

    def _relist(self) -> str:
        listed = self.client.list(self.path, self.label, self.field)
        fresh = {object_key(o): _with_kind(self.res, o) for o in listed.get("items") or []}
        with self._lock:
            old, self._cache = self._cache, dict(fresh)
        for key, obj in fresh.items():
            before = old.get(key)
            if before is None:
                self._dispatch("ADDED", obj)
            elif before["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._dispatch("MODIFIED", obj)
        for key, obj in old.items():
            if key not in fresh:
                self._dispatch("DELETED", obj)
        return str((listed.get("metadata") or {}).get("resourceVersion") or "")

    def _watch(self, rv: str) -> str:
        # closing(): the HTTP stream is released here when we stop early, not later by the
        # garbage collector on an arbitrary thread (which can deadlock on the pool's lock).
        with closing(self.client.watch(self.path, rv, WATCH_SECONDS, self.label, self.field)) as events:
            for event in events:
                if self._stop.is_set():
                    break
                obj = event.get("object") or {}
                rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                if event["type"] == "BOOKMARK":
                    continue
                key = object_key(obj)
                with self._lock:
                    if event["type"] == "DELETED":
                        self._cache.pop(key, None)
                    else:
                        self._cache[key] = obj
                self._dispatch(event["type"], obj)
        return rv

    def _dispatch(self, kind: str, obj: Obj) -> None:
        for handler in self.handlers:
            try:
                handler(kind, obj)
            except Exception:  # a handler bug must not kill the informer
                log.exception("%s handler failed on %s", self.res.plural, object_key(obj))


def _with_kind(res: Resource, obj: Obj) -> Obj:
    obj.setdefault("kind", res.kind)
    obj.setdefault("apiVersion", res.api_version)
    return obj
