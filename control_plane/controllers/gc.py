"""Garbage collection of pods whose owner or node is gone.

- A pod whose controller (ownerReference) no longer exists, or exists with another
  uid (deleted and re-created), is deleted: Kubernetes' background cascading
  deletion.  The owner is read afresh from the API before anything is deleted, so a
  brand-new Deployment that the cache has not seen yet never loses its pods.
- A pod bound to a Node that no longer exists is force-deleted (grace 0): no agent
  is left to confirm a graceful deletion.

One whole-cluster pass (`sweep`) every `period` seconds and soon after a Deployment is
deleted: the controller's only key is `controller.ALL`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from control_plane.api import paths
from control_plane.api.objects import Obj, controller_of, is_terminating, name_of, namespace_of
from control_plane.client.errors import ApiClientError, StatusError, is_not_found
from control_plane.client.events import EventRecorder
from control_plane.client.informer import Informer
from control_plane.client.interface import Api
from control_plane.controllers.controller import ALL, ControllerContext, Resync, Watch

log = logging.getLogger(__name__)
PODS, NODES = paths.resource("pods"), paths.resource("nodes")


def new(ctx: ControllerContext) -> GarbageCollector:
    shared = ctx.informers
    return GarbageCollector(ctx.client, shared.get("pods"), shared.get("nodes"), shared.get("deployments"),
                            ctx.events, ctx.config.gc_period)


class GarbageCollector:
    name = "garbage-collector-controller"
    workers = 1  # one key (ALL)

    def __init__(self, client: Api, pods: Informer, nodes: Informer, deployments: Informer,
                 events: EventRecorder | None = None, period: float = 10.0) -> None:
        self.client, self.pods, self.nodes, self.events = client, pods, nodes, events
        self.deployments, self.period = deployments, period
        self.collected = 0

    def watches(self) -> Sequence[Watch]:
        return [Watch(self.pods), Watch(self.nodes), Watch(self.deployments, self.keys_for_deployment)]

    def resync(self) -> Resync:
        return Resync(self.period, lambda: [ALL])

    @staticmethod
    def keys_for_deployment(kind: str, deploy: Obj) -> list[str]:
        # A deleted owner: collect its pods now rather than at the next period.
        return [ALL] if kind == "DELETED" else []

    def reconcile(self, key: str) -> None:
        """`key` is always ALL: one `sweep`."""
        self.sweep()

    def sweep(self) -> int:
        """One pass; returns how many pods it deleted."""
        deleted = 0
        owners: dict[tuple[str, str, str], str | None] = {}  # (ns, kind, name) -> uid or None
        known_nodes = {name_of(n) for n in self.nodes.items()}
        for pod in self.pods.items():
            try:
                if self._orphaned(pod, owners) or self._nodeless(pod, known_nodes):
                    deleted += 1
            except ApiClientError as err:
                log.info("gc of %s/%s: %s", namespace_of(pod), name_of(pod), err.message)
        self.collected += deleted
        return deleted

    def _orphaned(self, pod: Obj, owners: dict[tuple[str, str, str], str | None]) -> bool:
        ref = controller_of(pod)
        if not ref or ref.get("kind") != "Deployment" or is_terminating(pod):
            return False
        ns = namespace_of(pod)
        key = (ns, "Deployment", str(ref.get("name")))
        if key not in owners:
            try:
                owner = self.client.get(paths.path(paths.resource("deployments"), ns, key[2]))
                owners[key] = owner["metadata"].get("uid")
            except StatusError as err:
                if not is_not_found(err):
                    raise
                owners[key] = None
        if owners[key] == ref.get("uid"):
            return False
        return self._delete(pod, None, f"its owner Deployment {key[2]} is gone")

    def _nodeless(self, pod: Obj, known_nodes: set[str]) -> bool:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or node in known_nodes:
            return False
        try:  # the cache may lag behind a node that just registered
            self.client.get(paths.path(NODES, None, node))
            return False
        except StatusError as err:
            if not is_not_found(err):
                raise
        return self._delete(pod, 0, f"its node {node} no longer exists")

    def _delete(self, pod: Obj, grace: int | None, why: str) -> bool:
        ns, name = namespace_of(pod), name_of(pod)
        try:
            self.client.delete(paths.path(PODS, ns, name), grace)
        except StatusError as err:
            if is_not_found(err):
                return False
            raise
        log.info("deleted pod %s/%s: %s", ns, name, why)
        if self.events:
            self.events.record(pod, "Normal", "GarbageCollected", f"Deleted pod {ns}/{name}: {why}")
        return True
