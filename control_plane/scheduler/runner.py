"""The scheduling loop: informers feed the cache and the queue; one thread decides,
a pool of threads binds.

Contract:
- Only pods with no `spec.nodeName`, no deletionTimestamp and our scheduler name
  (`default-scheduler`, `skiff-scheduler` or none) are scheduled.
- A decision assumes the pod on its node at once (so the next decision sees the
  requests), then the binding is posted asynchronously; a failed binding forgets the
  assumption.  Binding is the API's compare-and-set: a pod is never bound twice, even
  with two schedulers active.
- An unschedulable pod gets condition PodScheduled=False (reason Unschedulable, the
  Kubernetes-style message) and a FailedScheduling Event, each written only when the
  message changes, and waits for a cluster change (see `queue.py`).
- Decisions happen only while `leading()` is true; the queue is kept either way, so
  a new leader starts at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from control_plane.api import paths
from control_plane.api.objects import TERMINAL_PHASES, Obj, object_key
from control_plane.client.clock import Clock, SystemClock, rfc3339
from control_plane.client.errors import ApiClientError, StatusError
from control_plane.client.events import EventRecorder
from control_plane.client.informer import Informer
from control_plane.client.interface import Api
from control_plane.scheduler.cache import SchedulerCache
from control_plane.scheduler.framework import feasible_nodes_to_find, schedule
from control_plane.scheduler.profile import DEFAULT_PROFILE, Profile
from control_plane.scheduler.queue import SchedulingQueue
from control_plane.scheduler.view import PodView

log = logging.getLogger(__name__)
PODS, NODES = paths.resource("pods"), paths.resource("nodes")
SCHEDULER_NAMES = (None, "", "default-scheduler", "skiff-scheduler")


def is_pending(pod: Obj) -> bool:
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    return (not spec.get("nodeName") and not meta.get("deletionTimestamp")
            and spec.get("schedulerName") in SCHEDULER_NAMES
            and (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES)


class Scheduler:
    """Schedules every pending pod with one `profile` (default: spread)."""

    def __init__(self, client: Api, profile: Profile = DEFAULT_PROFILE,
                 events: EventRecorder | None = None, bind_workers: int = 16,
                 percentage_of_nodes_to_score: float | None = None, flush_after: float = 60.0,
                 clock: Clock | None = None) -> None:
        self.client = client
        self.profile = profile
        self.events = events
        self.percentage = percentage_of_nodes_to_score
        self.cache = SchedulerCache()
        self.clock: Clock = clock or SystemClock()
        self.queue = SchedulingQueue(flush_after, self.clock)
        self.decisions = 0
        self.bound = 0
        self._binder = ThreadPoolExecutor(bind_workers, thread_name_prefix="bind")
        self._seen_spec: dict[str, Any] = {}
        self._reported: dict[str, str] = {}  # pod key -> last unschedulable message written
        self._next_start = 0
        self.node_informer = Informer(client, NODES, handler=self._on_node)
        self.pod_informer = Informer(client, PODS, handler=self._on_pod)

    # ---- events from the informers ---------------------------------------------------
    def _on_node(self, kind: str, obj: Obj) -> None:
        if self.cache.node_event(kind, obj):
            self.queue.move_unschedulable()

    def _on_pod(self, kind: str, obj: Obj) -> None:
        key = object_key(obj)
        if self.cache.pod_event(kind, obj):
            self.queue.move_unschedulable()
        if kind == "DELETED" or not is_pending(obj):
            self.queue.remove(key)
            self._seen_spec.pop(key, None)
            self._reported.pop(key, None)
            return
        if self.cache.is_assumed(key):
            return
        # Our own status writes come back as events: they must not re-queue the pod.
        spec = (obj.get("spec"), (obj.get("metadata") or {}).get("labels"))
        if self.queue.is_unschedulable(key) and self._seen_spec.get(key) == spec:
            return
        self._seen_spec[key] = spec
        self.queue.add(key)

    # ---- running --------------------------------------------------------------------
    def start(self) -> None:
        self.node_informer.start()
        self.pod_informer.start()

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for informer in (self.node_informer, self.pod_informer):
            if not informer.synced.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def stop(self) -> None:
        self.node_informer.stop()
        self.pod_informer.stop()
        self._binder.shutdown(wait=True, cancel_futures=False)

    def loop(self, stop: threading.Event, leading: Callable[[], bool]) -> None:
        while not stop.is_set():
            if not leading() or not self.pod_informer.synced.is_set():
                stop.wait(0.1)
                continue
            self.schedule_one(timeout=0.5)

    def schedule_one(self, timeout: float = 0.0) -> bool:
        """Take one pod off the queue and decide for it; False if the queue was empty.

        One pod's failure never stops scheduling for the others: an unexpected error on
        it is logged, reported as a FailedScheduling event and retried with back-off."""
        key = self.queue.pop(timeout)
        if key is None:
            return False
        obj = self.pod_informer.get(key)
        if obj is None or not is_pending(obj) or self.cache.is_placed(key):
            return True
        try:
            self._decide(key, obj)
        except Exception as err:
            delay = self.queue.backoff(key)
            log.exception("scheduling %s failed; retrying in %.0fs", key, delay)
            if self.events:
                self.events.record(obj, "Warning", "FailedScheduling",
                                   f"the scheduler could not handle this pod: {type(err).__name__}: {err}")
        return True

    def _decide(self, key: str, obj: Obj) -> None:
        pod = PodView.from_object(obj)
        with self.cache.lock:
            nodes = self.cache.views()
            limit = feasible_nodes_to_find(len(nodes), self.percentage)
            decision = schedule(pod, nodes, self.profile, limit, self._next_start)
            self._next_start = (self._next_start + decision.examined) % max(1, len(nodes))
            self.decisions += 1
            if decision.node is not None:
                self.cache.assume(key, decision.node, pod)
        if decision.node is None:
            log.debug("%s unschedulable; rejected by %s", key, ", ".join(sorted(decision.diagnosis.plugins)))
            self.queue.unschedulable(key)
            self._binder.submit(self._report_unschedulable, obj, decision.message)
        else:
            self._binder.submit(self._bind, obj, decision.node)

    # ---- writes (on the binder pool) ----------------------------------------------------
    def _bind(self, obj: Obj, node: str) -> None:
        key = object_key(obj)
        meta = obj["metadata"]
        body = {"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        try:
            self.client.create(paths.path(PODS, meta["namespace"], meta["name"], "binding"), body)
        except StatusError as err:
            self.cache.forget(key)
            if err.code == 409:  # bound elsewhere or being deleted: the informer will tell
                log.info("binding %s to %s: %s", key, node, err.message)
                return
            # Anything else, 404 included, is tried again: a pod that is really gone
            # leaves the queue with the informer's DELETED event (a retry then finds no
            # object and does nothing); one the server could not see yet is not lost.
            self._retry_later(key, err.message)
            return
        except ApiClientError as err:
            self.cache.forget(key)
            self._retry_later(key, err.message)
            return
        self.bound += 1
        self.queue.done(key)
        if self.events:
            self.events.record(obj, "Normal", "Scheduled",
                               f"Successfully assigned {key} to {node}")

    def _retry_later(self, key: str, why: str) -> None:
        delay = self.queue.backoff(key)
        log.warning("binding %s failed (%s); retrying in %.0fs", key, why, delay)

    def _report_unschedulable(self, obj: Obj, message: str) -> None:
        key = object_key(obj)
        if self._reported.get(key) == message:
            return
        status = dict(obj.get("status") or {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                           "message": message, "lastTransitionTime": rfc3339(self.clock.time())})
        status["conditions"] = conditions
        status.setdefault("phase", "Pending")
        meta = obj["metadata"]
        body = {"metadata": {"resourceVersion": meta.get("resourceVersion")}, "status": status}
        try:
            self.client.replace(paths.path(PODS, meta["namespace"], meta["name"], "status"), body)
        except ApiClientError as err:
            log.info("status of %s not written: %s", key, err.message)
            return
        self._reported[key] = message
        if self.events:
            self.events.record(obj, "Warning", "FailedScheduling", message)
