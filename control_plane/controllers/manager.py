"""The controller manager: shared informers, the controllers, and their loops.

Informers run all the time (a standby has a warm cache); controllers act only while
`leading()` is true.  Loops:
- deployments: workers take keys from a work queue (woken by Deployment and owned-Pod
  events, and a full resync every `resync_period`), back-off on API errors;
- node lifecycle: `monitor()` every `node_monitor_period`;
- garbage collection: `sweep()` every `gc_period`, and soon after a Deployment is deleted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from control_plane.api import paths
from control_plane.api.objects import Obj, object_key
from control_plane.client.apiclient import ApiClient
from control_plane.client.clock import Clock, SystemClock
from control_plane.client.errors import ApiClientError
from control_plane.client.events import EventRecorder
from control_plane.client.informer import Informer
from control_plane.client.workqueue import WorkQueue
from control_plane.controllers.deployment import DeploymentController
from control_plane.controllers.gc import GarbageCollector
from control_plane.controllers.nodelifecycle import NodeLifecycleConfig, NodeLifecycleController

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ManagerConfig:
    node_lifecycle: NodeLifecycleConfig = field(default_factory=NodeLifecycleConfig)
    node_monitor_period: float = 1.0
    gc_period: float = 10.0
    resync_period: float = 30.0
    deployment_workers: int = 2


class ControllerManager:
    def __init__(self, client: ApiClient, config: ManagerConfig | None = None, clock: Clock | None = None,
                 events: EventRecorder | None = None) -> None:
        self.config = config or ManagerConfig()
        self.clock = clock or SystemClock()
        self.queue = WorkQueue(self.clock)
        self.gc_soon = threading.Event()
        self.nodes = Informer(client, paths.resource("nodes"))
        self.pods = Informer(client, paths.resource("pods"), handler=self._on_pod)
        self.deployments = Informer(client, paths.resource("deployments"), handler=self._on_deployment)
        self.leases = Informer(client, paths.resource("leases"), namespace="kube-node-lease")
        self.deployment = DeploymentController(client, events)
        self.node_lifecycle = NodeLifecycleController(client, self.nodes, self.leases, self.pods, self.clock,
                                                      self.config.node_lifecycle, events)
        self.gc = GarbageCollector(client, self.pods, self.nodes, events)
        self.informers = [self.nodes, self.pods, self.deployments, self.leases]

    def _on_deployment(self, kind: str, obj: Obj) -> None:
        if kind == "DELETED":
            self.gc_soon.set()
        else:
            self.queue.add(object_key(obj))

    def _on_pod(self, kind: str, obj: Obj) -> None:
        for key in self.deployment.keys_for_pod(obj):
            self.queue.add(key)

    def start_informers(self) -> None:
        for informer in self.informers:
            informer.start()

    def wait_synced(self, timeout: float) -> bool:
        return all(i.synced.wait(timeout) for i in self.informers)

    def run(self, stop: threading.Event, leading: Callable[[], bool]) -> None:
        """Run every loop until `stop` is set (blocks)."""
        self.start_informers()
        threads = [threading.Thread(target=self._deployment_worker, args=(stop, leading), daemon=True,
                                    name=f"deployments-{i}") for i in range(self.config.deployment_workers)]
        threads += [
            threading.Thread(target=self._every, args=(stop, leading, self.config.node_monitor_period,
                                                       self.node_lifecycle.monitor, None), daemon=True),
            threading.Thread(target=self._every, args=(stop, leading, self.config.gc_period, self.gc.sweep,
                                                       self.gc_soon), daemon=True),
            threading.Thread(target=self._every, args=(stop, leading, self.config.resync_period,
                                                       self._resync, None), daemon=True),
        ]
        for t in threads:
            t.start()
        stop.wait()
        for informer in self.informers:
            informer.stop()
        for t in threads:
            t.join(timeout=5)

    def _resync(self) -> None:
        for obj in self.deployments.items():
            self.queue.add(object_key(obj))

    def _deployment_worker(self, stop: threading.Event, leading: Callable[[], bool]) -> None:
        while not stop.is_set():
            if not leading() or not self.pods.synced.is_set():
                stop.wait(0.2)
                continue
            key = self.queue.get(timeout=0.5)
            if key is None:
                continue
            try:
                self.deployment.reconcile(key)
                self.queue.forget(key)
            except ApiClientError as err:
                log.info("deployment %s: %s (retrying in %.2fs)", key, err.message, self.queue.retry(key))
            except Exception:
                log.exception("deployment %s: unexpected error", key)
                self.queue.retry(key)
            finally:
                self.queue.done(key)

    def _every(self, stop: threading.Event, leading: Callable[[], bool], period: float,
               work: Callable[[], object], wake: threading.Event | None) -> None:
        while not stop.is_set():
            if leading() and all(i.synced.is_set() for i in self.informers):
                try:
                    work()
                except ApiClientError as err:
                    log.info("%s: %s", getattr(work, "__name__", "loop"), err.message)
                except Exception:
                    log.exception("%s: unexpected error", getattr(work, "__name__", "loop"))
            if wake is not None:
                wake.wait(period)
                wake.clear()
            else:
                stop.wait(period)
