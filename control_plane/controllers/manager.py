"""The controller manager: builds the registered controllers, their shared informers,
one work queue each, and runs their workers and resync tickers.

Informers run all the time (a standby has a warm cache); controllers act only while
`leading()` is true.  Adding a controller: write its module (a class implementing
`controller.Controller` and a `new(ctx)` factory) and add `new` to `REGISTRY`.

Thread-safety: `run` starts, per controller, `workers` threads taking keys off its
queue and one resync ticker; events reach the queues on the informers' threads.
`process_next` and `resync_now` may be called from any thread (tests drive the
manager with them, without `run`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from control_plane.api.objects import Obj
from control_plane.client.clock import Clock, SystemClock
from control_plane.client.errors import ApiClientError
from control_plane.client.events import EventRecorder
from control_plane.client.informer import Informer
from control_plane.client.interface import Api
from control_plane.client.workqueue import WorkQueue
from control_plane.controllers import deployment, gc, nodelifecycle
from control_plane.controllers.config import ManagerConfig, NodeLifecycleConfig
from control_plane.controllers.controller import (
    Controller,
    ControllerContext,
    ControllerFactory,
    KeysOf,
    SharedInformers,
)
from control_plane.controllers.deployment import DeploymentController
from control_plane.controllers.gc import GarbageCollector
from control_plane.controllers.nodelifecycle import NodeLifecycleController

__all__ = ["REGISTRY", "ControllerManager", "ManagerConfig", "NodeLifecycleConfig"]
log = logging.getLogger(__name__)
C = TypeVar("C")

# Every controller the manager runs, in start order: one line per controller.
REGISTRY: tuple[ControllerFactory, ...] = (
    deployment.new,
    nodelifecycle.new,
    gc.new,
)


class ControllerManager:
    """Raises ValueError if two registered controllers share a name."""

    def __init__(self, client: Api, config: ManagerConfig | None = None, clock: Clock | None = None,
                 events: EventRecorder | None = None,
                 registry: tuple[ControllerFactory, ...] = REGISTRY) -> None:
        self.config = config or ManagerConfig()
        self.clock = clock or SystemClock()
        shared = SharedInformers(client)
        ctx = ControllerContext(client, shared, self.clock, self.config, events)
        self.controllers: dict[str, Controller] = {}
        self.queues: dict[str, WorkQueue] = {}
        self._reads: dict[str, list[Informer]] = {}
        for factory in registry:
            self._add(factory(ctx))
        self.informers = shared.all()

    def _add(self, controller: Controller) -> None:
        name = controller.name
        if name in self.controllers:
            raise ValueError(f"two controllers are named {name}")
        queue = WorkQueue(self.clock)
        self.controllers[name], self.queues[name] = controller, queue
        watches = controller.watches()
        self._reads[name] = [w.informer for w in watches]
        for w in watches:
            if w.keys is not None:
                w.informer.handlers.append(_enqueue(queue, w.keys))

    # ---- the built-in controllers, typed (tests and tools call them directly) ----------
    @property
    def deployment(self) -> DeploymentController:
        return self._typed(DeploymentController.name, DeploymentController)

    @property
    def node_lifecycle(self) -> NodeLifecycleController:
        return self._typed(NodeLifecycleController.name, NodeLifecycleController)

    @property
    def gc(self) -> GarbageCollector:
        return self._typed(GarbageCollector.name, GarbageCollector)

    def _typed(self, name: str, kind: type[C]) -> C:
        controller = self.controllers[name]
        if not isinstance(controller, kind):
            raise TypeError(f"controller {name} is a {type(controller).__name__}, not a {kind.__name__}")
        return controller

    # ---- informers ------------------------------------------------------------------
    def start_informers(self) -> None:
        for informer in self.informers:
            informer.start()

    def wait_synced(self, timeout: float) -> bool:
        """True once every informer has listed, False after `timeout` seconds (real time)."""
        deadline = time.monotonic() + timeout
        return all(i.synced.wait(max(0.0, deadline - time.monotonic())) for i in self.informers)

    def synced(self, name: str) -> bool:
        """Have all the informers controller `name` reads listed?"""
        return all(i.synced.is_set() for i in self._reads[name])

    # ---- the work ----------------------------------------------------------------------
    def resync_now(self, name: str) -> None:
        """Queue controller `name`'s resync keys (no-op without a resync)."""
        resync = self.controllers[name].resync()
        if resync is not None:
            for key in resync.list_keys():
                self.queues[name].add(key)

    def process_next(self, name: str, timeout: float = 0.0) -> bool:
        """Reconcile the next key of controller `name`, waiting up to `timeout` seconds
        for one; False if there was none.  A failure is logged and the key retried with
        back-off; it never propagates (one bad object must not stop the others)."""
        queue = self.queues[name]
        key = queue.get(timeout)
        if key is None:
            return False
        try:
            self.controllers[name].reconcile(key)
            queue.forget(key)
        except ApiClientError as err:
            log.info("%s %s: %s (retrying in %.2fs)", name, key, err.message, queue.retry(key))
        except Exception:
            log.exception("%s %s: unexpected error (retrying in %.2fs)", name, key, queue.retry(key))
        finally:
            queue.done(key)
        return True

    def run(self, stop: threading.Event, leading: Callable[[], bool]) -> None:
        """Run every controller until `stop` is set (blocks), then stop the informers."""
        self.start_informers()
        threads: list[threading.Thread] = []
        for name, controller in self.controllers.items():
            threads += [threading.Thread(target=self._work, args=(name, stop, leading), daemon=True,
                                         name=f"{name}-{i}") for i in range(controller.workers)]
            resync = controller.resync()
            if resync is not None:
                threads.append(threading.Thread(target=self._tick, args=(name, resync.period, stop),
                                                daemon=True, name=f"{name}-resync"))
        for t in threads:
            t.start()
        stop.wait()
        for informer in self.informers:
            informer.stop()
        for t in threads:
            t.join(timeout=5)

    def _work(self, name: str, stop: threading.Event, leading: Callable[[], bool]) -> None:
        while not stop.is_set():
            if not leading() or not self.synced(name):
                stop.wait(0.2)  # keys wait in the queue (deduplicated) for a leader
                continue
            self.process_next(name, timeout=0.5)

    def _tick(self, name: str, period: float, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.resync_now(name)
            except Exception:  # a bug in one resync must not end the ticker
                log.exception("%s: resync failed", name)
            stop.wait(period)


def _enqueue(queue: WorkQueue, keys: KeysOf) -> Callable[[str, Obj], None]:
    def handler(kind: str, obj: Obj) -> None:
        for key in keys(kind, obj):
            queue.add(key)
    return handler
