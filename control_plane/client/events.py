"""Recording Events ("Scheduled", "FailedScheduling", "NodeNotReady", ...) without
slowing the caller down.

Contract: `record()` never blocks and never raises; events are posted by one
background thread.  When the API is slow and the queue is full, events are dropped
and counted (`dropped`), as Kubernetes' event broadcaster does: events are advice,
never state that anything depends on.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading

from control_plane.api import paths
from control_plane.api.objects import Obj
from control_plane.client.clock import Clock, SystemClock, rfc3339
from control_plane.client.errors import ApiClientError
from control_plane.client.interface import Api

log = logging.getLogger(__name__)
EVENTS = paths.resource("events")


class EventRecorder:
    def __init__(self, client: Api, component: str, host: str = "", clock: Clock | None = None,
                 capacity: int = 1000) -> None:
        self.client, self.component, self.host = client, component, host
        self.clock = clock or SystemClock()
        self.dropped = 0
        self._queue: queue.Queue[Obj | None] = queue.Queue(capacity)
        self._thread = threading.Thread(target=self._run, name=f"events-{component}", daemon=True)
        self._thread.start()

    def record(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Queue an Event about `obj` (`type_` is Normal or Warning)."""
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        stamp = rfc3339(self.clock.time())
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.get('name', 'object')}.{secrets.token_hex(8)}", "namespace": ns},
            "involvedObject": {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""),
                               "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
                               "uid": meta.get("uid", ""),
                               "resourceVersion": meta.get("resourceVersion", "")},
            "reason": reason, "message": message, "type": type_, "count": 1,
            "firstTimestamp": stamp, "lastTimestamp": stamp,
            "source": {"component": self.component, "host": self.host},
            "reportingComponent": self.component,
        }
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout: float = 5.0) -> None:
        """Wait (up to `timeout`) until queued events are posted; for tests and shutdown."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        done.wait(timeout)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                ns = event["metadata"]["namespace"]
                self.client.create(paths.path(EVENTS, ns), event)
            except ApiClientError as err:
                log.info("event %s not recorded: %s", event and event["reason"], err.message)
            finally:
                self._queue.task_done()
