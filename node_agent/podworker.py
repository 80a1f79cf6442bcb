"""The pod sync loop (Skiff's kubelet core): level-triggered, one pod at a time per
worker, every pod looked at again every `resync` seconds.

Desired pods come from two sources: the API (pods bound to this node, through an
informer) and static pods (manifests, see `staticpods.py`, reported through mirror
pods).  For each pod `sync(uid)` compares the spec with what the runtime runs and acts:

- a container that never ran is started; one that exited is restarted when the
  restart policy says so, after Kubernetes' crash-loop back-off (`CrashLoopBackOff`);
- liveness probe failure restarts a container; readiness sets its `ready`;
- a pod with a deletionTimestamp gets its containers stopped (SIGTERM, its grace
  period, SIGKILL), then the agent confirms the deletion (DELETE with grace 0);
- a pod that is gone from every source is stopped and forgotten;
- the pod's status (phase, container states, restart counts, conditions, podIP) is
  written through `pods/status` whenever it changes.

Restarting the agent stops nothing: the runtime re-adopts running containers, restart
counts are read back from the API's last status.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from control_plane.api import paths
from control_plane.api.objects import MIRROR_ANNOTATION as MIRROR
from control_plane.api.objects import Obj, deletion_grace_seconds, grace_seconds
from control_plane.client.clock import Clock, SystemClock, parse_rfc3339
from control_plane.client.errors import ApiClientError, StatusError, is_not_found
from control_plane.client.interface import Api
from control_plane.client.workqueue import WorkQueue
from node_agent.desired import DesiredPod
from node_agent.podspec import Backoff, ConfigProblem, container_spec, restarts_allowed
from node_agent.podstatus import ContainerView, pod_status
from node_agent.probes import ProbeTracker, run_probe
from node_agent.runtime.base import ContainerState, Runtime, StartError
from node_agent.staticpods import ensure_mirror, mirror_name

log = logging.getLogger(__name__)
PODS = paths.resource("pods")


@dataclass
class ContainerMemory:
    """What the agent remembers about a container between syncs."""

    restarts: int = 0
    last_terminated: ContainerState | None = None
    seen_exit: float | None = None  # finished_at of the exit already counted
    next_start: float = 0.0
    waiting: tuple[str, str] | None = None
    liveness: ProbeTracker | None = None
    readiness: ProbeTracker | None = None


@dataclass
class PodMemory:
    start_time: float | None = None
    containers: dict[str, ContainerMemory] = field(default_factory=dict)
    reported: Obj | None = None


class PodWorker:
    def __init__(
        self,
        api: Api,
        runtime: Runtime,
        node_name: str,
        node_ip: str,
        backoff: Backoff | None = None,
        clock: Clock | None = None,
        workers: int = 4,
        resync: float = 1.0,
    ) -> None:
        self.api, self.runtime = api, runtime
        self.node_name, self.node_ip = node_name, node_ip
        self.backoff = backoff or Backoff()
        self.clock: Clock = clock or SystemClock()
        self.workers, self.resync = workers, resync
        self.queue = WorkQueue(self.clock)
        self._desired: dict[str, DesiredPod] = {}
        self._memory: dict[str, PodMemory] = {}
        self._lock = threading.Lock()
        self.static_loaded = threading.Event()

    # ---- sources ------------------------------------------------------------------
    def on_api_pod(self, kind: str, obj: Obj) -> None:
        """Informer handler for pods bound to this node (mirror pods are ignored here)."""
        meta = obj.get("metadata") or {}
        if MIRROR in (meta.get("annotations") or {}):
            return
        uid = str(meta.get("uid"))
        with self._lock:
            if kind == "DELETED" or (obj.get("spec") or {}).get("nodeName") != self.node_name:
                self._desired.pop(uid, None)
            else:
                self._desired[uid] = DesiredPod(uid, obj)
        self.queue.add(uid)

    def set_static_pods(self, pods: list[DesiredPod]) -> None:
        """Replace the set of static pods (from the manifests directory)."""
        with self._lock:
            gone = [u for u, d in self._desired.items() if d.static and u not in {p.uid for p in pods}]
            for uid in gone:
                self._desired.pop(uid)
            for pod in pods:
                self._desired[pod.uid] = pod
        self.static_loaded.set()
        for uid in gone + [p.uid for p in pods]:
            self.queue.add(uid)

    def report_again(self, uid: str) -> None:
        """Post the pod's status at the next sync even if it did not change (its mirror pod
        was just created again: the last report may have gone to the one it replaced)."""
        with self._lock:
            memory = self._memory.get(uid)
            if memory is not None:
                memory.reported = None
        self.queue.add(uid)

    def desired(self) -> list[DesiredPod]:
        with self._lock:
            return list(self._desired.values())

    # ---- loops ----------------------------------------------------------------------
    def run(self, stop: threading.Event, synced: Callable[[], bool]) -> None:
        """Workers plus the resync ticker, until `stop`.  Orphans (containers of no
        desired pod) are stopped only once every source has been read (`synced`)."""
        threads = [
            threading.Thread(target=self._work, args=(stop,), daemon=True, name=f"pod-worker-{i}")
            for i in range(self.workers)
        ]
        for t in threads:
            t.start()
        while not stop.is_set():
            self._enqueue_all(synced())
            stop.wait(self.resync)
        for t in threads:
            t.join(timeout=5)

    def _enqueue_all(self, synced: bool) -> None:
        """Every desired pod; and, once every source was read, every container the
        runtime has (so orphans are stopped, never before: after an agent restart the
        API's pods are not known until the informer has listed them)."""
        uids = {d.uid for d in self.desired()}
        if synced:
            uids |= {u for u, _ in self.runtime.containers()}
            with self._lock:
                uids |= set(self._memory)
        for uid in uids:
            self.queue.add(uid)

    def _work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            uid = self.queue.get(timeout=0.5)
            if uid is None:
                continue
            try:
                self.sync(uid)
                self.queue.forget(uid)
            except ApiClientError as err:
                log.info("pod %s: %s", uid, err.message)
                self.queue.retry(uid)
            except Exception:
                log.exception("pod %s: unexpected error", uid)
                self.queue.retry(uid)
            finally:
                self.queue.done(uid)

    # ---- one pod ----------------------------------------------------------------------
    def sync(self, uid: str) -> None:
        with self._lock:
            desired = self._desired.get(uid)
            memory = self._memory.setdefault(uid, PodMemory())
        if desired is None:
            self._stop_all(uid, grace=30.0)
            self._forget(uid)
            return
        pod = desired.obj
        if pod["metadata"].get("deletionTimestamp"):
            self._terminate(desired, memory)
            return
        if memory.start_time is None:
            memory.start_time = parse_rfc3339((pod.get("status") or {}).get("startTime")) or self.clock.time()
        views = [
            self._sync_container(desired, memory, c) for c in (pod.get("spec") or {}).get("containers") or []
        ]
        status = pod_status(
            pod, views, self.node_ip, memory.start_time, memory.reported or pod.get("status") or {}
        )
        if status != memory.reported:
            self._report(desired, status)
            memory.reported = status

    def _sync_container(self, desired: DesiredPod, memory: PodMemory, c: Obj) -> ContainerView:
        name = str(c.get("name"))
        mem = memory.containers.get(name)
        if mem is None:
            mem = memory.containers[name] = self._recall(desired.obj, c)
        state = self.runtime.status(desired.uid, name)
        now = self.clock.time()
        if state is not None and state.state == "exited":
            state = self._after_exit(desired, c, mem, state, now)
        elif state is None and now >= mem.next_start:
            state = self._start(desired, c, mem)
        if state is not None and state.state == "running":
            mem.waiting = None
            state = self._probe(desired, c, mem, state, now)
        ready = bool(
            state
            and state.state == "running"
            and (mem.readiness is None or mem.readiness.result == "Success")
        )
        return ContainerView(
            name, str(c.get("image", "")), state, mem.waiting, mem.restarts, ready, mem.last_terminated
        )

    def _recall(self, pod: Obj, c: Obj) -> ContainerMemory:
        """Memory for a container, seeded from the API's last status (agent restarts)."""
        mem = ContainerMemory()
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            if cs.get("name") == c.get("name"):
                mem.restarts = int(cs.get("restartCount") or 0)
        self._new_probes(c, mem)
        return mem

    def _new_probes(self, c: Obj, mem: ContainerMemory) -> None:
        mem.liveness = ProbeTracker(c["livenessProbe"], self.clock) if c.get("livenessProbe") else None
        mem.readiness = ProbeTracker(c["readinessProbe"], self.clock) if c.get("readinessProbe") else None

    def _start(self, desired: DesiredPod, c: Obj, mem: ContainerMemory) -> ContainerState | None:
        try:
            spec = container_spec(desired.obj, c, desired.uid, self.node_ip)
            state = self.runtime.start(spec)
        except (ConfigProblem, StartError) as err:
            mem.waiting = (err.reason, err.message)
            mem.next_start = self.clock.time() + self.backoff.delay(max(1, mem.restarts))
            log.warning("%s/%s container %s: %s", desired.namespace, desired.name, c.get("name"), err.message)
            return None
        mem.waiting = None
        return state

    def _after_exit(
        self, desired: DesiredPod, c: Obj, mem: ContainerMemory, state: ContainerState, now: float
    ) -> ContainerState:
        policy = (desired.obj.get("spec") or {}).get("restartPolicy")
        if not restarts_allowed(policy, state.exit_code):
            return state
        if mem.seen_exit != state.finished_at:  # a new exit: count it, schedule the restart
            mem.seen_exit = state.finished_at
            ran = (state.finished_at or now) - (state.started_at or now)
            streak = 1 if ran >= self.backoff.reset_after else mem.restarts + 1
            mem.next_start = (state.finished_at or now) + self.backoff.delay(streak)
        if now < mem.next_start:
            wait = mem.next_start - now
            mem.waiting = (
                "CrashLoopBackOff",
                f"back-off {wait:.0f}s restarting failed container={c.get('name')} pod={desired.name}",
            )
            return state
        mem.last_terminated = state
        mem.restarts += 1
        self._new_probes(c, mem)  # probes start over with the new run
        started = self._start(desired, c, mem)
        return started or state

    def _probe(
        self, desired: DesiredPod, c: Obj, mem: ContainerMemory, state: ContainerState, now: float
    ) -> ContainerState:
        started = state.started_at or now
        for tracker, kind in ((mem.readiness, "readiness"), (mem.liveness, "liveness")):
            if tracker is None or not tracker.due(started):
                continue
            probe = c.get(f"{kind}Probe") or {}
            env = {str(e.get("name")): str(e.get("value", "")) for e in c.get("env") or [] if "value" in e}
            ok, message = run_probe(probe, self.node_ip, env, c.get("workingDir"))
            flipped = tracker.record(ok, message)
            if kind == "liveness" and flipped == "Failure":
                log.warning(
                    "%s/%s container %s failed liveness: %s; restarting",
                    desired.namespace,
                    desired.name,
                    c.get("name"),
                    message,
                )
                grace = float(grace_seconds(desired.obj))
                self.runtime.stop(desired.uid, str(c.get("name")), grace)
                mem.next_start = 0.0
                stopped = self.runtime.status(desired.uid, str(c.get("name")))
                return stopped or state
        return state

    # ---- stopping ---------------------------------------------------------------------
    def _terminate(self, desired: DesiredPod, memory: PodMemory) -> None:
        grace = float(deletion_grace_seconds(desired.obj))
        self._stop_all(desired.uid, grace)
        if not desired.static:
            try:
                self.api.delete(paths.path(PODS, desired.namespace, desired.name), grace=0)
            except StatusError as err:
                if not is_not_found(err):
                    raise
        with self._lock:
            self._desired.pop(desired.uid, None)
        self._forget(desired.uid)

    def _stop_all(self, uid: str, grace: float) -> None:
        for pod_uid, name in self.runtime.containers():
            if pod_uid == uid:
                state = self.runtime.status(pod_uid, name)
                if state is not None and state.state == "running":
                    self.runtime.stop(pod_uid, name, grace)

    def _forget(self, uid: str) -> None:
        for pod_uid, name in self.runtime.containers():
            if pod_uid == uid:
                self.runtime.remove(pod_uid, name)
        with self._lock:
            self._memory.pop(uid, None)

    # ---- reporting --------------------------------------------------------------------
    def _report(self, desired: DesiredPod, status: Obj) -> None:
        name = mirror_name(desired.obj, self.node_name) if desired.static else desired.name
        path = paths.path(PODS, desired.namespace, name, "status")
        try:
            self.api.replace(path, {"status": status})
        except StatusError as err:
            if not is_not_found(err):
                raise
            if desired.static:  # the mirror pod was deleted: put it back, report next time
                ensure_mirror(self.api, desired, self.node_name)
                raise
