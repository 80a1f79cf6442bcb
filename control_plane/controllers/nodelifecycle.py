"""The node lifecycle controller: notices nodes that stopped heartbeating, marks them,
and moves their pods away — carefully.

- Heartbeat: a node's Lease in `kube-node-lease` (or its Ready condition's
  lastHeartbeatTime).  Staleness is measured on *this* process's clock from when it
  last saw the heartbeat change, never by comparing clocks across machines.
- A node silent for `grace_period` gets Ready=Unknown and the taint
  `node.kubernetes.io/unreachable:NoExecute`; a node reporting Ready=False gets
  `node.kubernetes.io/not-ready:NoExecute`.  Taints are removed when the node is
  healthy again.
- Taint-based eviction: a pod on a node with a NoExecute taint is deleted when it
  does not tolerate it, or after its `tolerationSeconds` for it (default
  `default_toleration`, what Kubernetes' DefaultTolerationSeconds adds), counted
  from the taint's timeAdded.  Its Deployment replaces it elsewhere.
- Safety: evictions go through a token bucket (`eviction_rate` per second), and stop
  altogether while at least `unhealthy_threshold` of the nodes (and more than one)
  are unhealthy: that looks like a network problem, not dead machines.

One whole-cluster pass (`monitor`) every `period` seconds: the controller's only key
is `controller.ALL`, so the manager never runs two passes at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from control_plane.api import paths
from control_plane.api.objects import (
    Obj,
    condition,
    is_mirror,
    is_terminal,
    is_terminating,
    name_of,
    namespace_of,
    tolerates,
)
from control_plane.client.clock import Clock, parse_rfc3339, rfc3339
from control_plane.client.errors import ApiClientError, StatusError, is_not_found
from control_plane.client.events import EventRecorder
from control_plane.client.informer import Informer
from control_plane.client.interface import Api
from control_plane.controllers.config import NodeLifecycleConfig
from control_plane.controllers.controller import ALL, ControllerContext, Resync, Watch

__all__ = ["NOT_READY", "UNREACHABLE", "NodeLifecycleConfig", "NodeLifecycleController", "new"]

log = logging.getLogger(__name__)
NODES, PODS, LEASES = paths.resource("nodes"), paths.resource("pods"), paths.resource("leases")
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"


def new(ctx: ControllerContext) -> NodeLifecycleController:
    shared = ctx.informers
    return NodeLifecycleController(ctx.client, shared.get("nodes"), shared.get("leases", "kube-node-lease"),
                                   shared.get("pods"), ctx.clock, ctx.config.node_lifecycle, ctx.events,
                                   ctx.config.node_monitor_period)


class NodeLifecycleController:
    name = "node-lifecycle-controller"
    workers = 1  # one key (ALL): a second worker would only wait

    def __init__(self, client: Api, nodes: Informer, leases: Informer, pods: Informer, clock: Clock,
                 config: NodeLifecycleConfig | None = None, events: EventRecorder | None = None,
                 period: float = 1.0) -> None:
        self.client, self.clock, self.events = client, clock, events
        self.config = config or NodeLifecycleConfig()
        self.period = period
        self.nodes, self.leases, self.pods = nodes, leases, pods
        self._heard: dict[str, tuple[Any, float]] = {}  # node -> (heartbeat token, our clock)
        self._tokens = float(self.config.eviction_burst)
        self._refilled = clock.monotonic()
        self.halted = False

    def watches(self) -> Sequence[Watch]:
        # Read from the caches only: the pass is periodic, events need not wake it.
        return [Watch(self.nodes), Watch(self.leases), Watch(self.pods)]

    def resync(self) -> Resync:
        return Resync(self.period, lambda: [ALL])

    def reconcile(self, key: str) -> None:
        """`key` is always ALL: one `monitor` pass."""
        self.monitor()

    def monitor(self) -> None:
        """One pass over all nodes and their pods (call every second or so)."""
        now = self.clock.monotonic()
        nodes = self.nodes.items()
        unhealthy = 0
        for node in nodes:
            try:
                if not self._check_node(node, now):
                    unhealthy += 1
            except ApiClientError as err:
                log.info("node %s: %s", name_of(node), err.message)
        self._set_halted(len(nodes) > 1 and unhealthy > 1
                         and unhealthy >= self.config.unhealthy_threshold * len(nodes))
        self._evict_pods(nodes)

    # ---- node health ------------------------------------------------------------------
    def _heartbeat_age(self, node: Obj, now: float) -> float:
        name = name_of(node)
        lease = self.leases.get(f"kube-node-lease/{name}")
        ready = condition(node, "Ready") or {}
        token = ((lease or {}).get("spec", {}).get("renewTime"), ready.get("lastHeartbeatTime"))
        seen = self._heard.get(name)
        if seen is None or seen[0] != token:
            self._heard[name] = (token, now)
            return 0.0
        return now - seen[1]

    def _check_node(self, node: Obj, now: float) -> bool:
        """Update the node's condition and taints; True if it is healthy."""
        age = self._heartbeat_age(node, now)
        ready = (condition(node, "Ready") or {}).get("status", "Unknown")
        if age > self.config.grace_period:
            if ready != "Unknown":
                self._mark_unknown(node)
            self._ensure_taints(node, {UNREACHABLE})
            return False
        if ready == "True":
            self._ensure_taints(node, set())
            return True
        self._ensure_taints(node, {NOT_READY} if ready == "False" else {UNREACHABLE})
        return False

    def _mark_unknown(self, node: Obj) -> None:
        status = dict(node.get("status") or {})
        stamp = rfc3339(self.clock.time())
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Ready"]
        conditions.append({"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                           "message": "Kubelet stopped posting node status.", "lastTransitionTime": stamp,
                           "lastHeartbeatTime": (condition(node, "Ready") or {}).get("lastHeartbeatTime")})
        status["conditions"] = conditions
        body = {"metadata": {"resourceVersion": node["metadata"]["resourceVersion"]}, "status": status}
        self.client.replace(paths.path(NODES, None, name_of(node), "status"), body)
        log.warning("node %s stopped heartbeating: Ready=Unknown", name_of(node))
        if self.events:
            self.events.record(node, "Normal", "NodeNotReady", f"Node {name_of(node)} status is now: "
                                                                "NodeNotReady (no heartbeat)")

    def _ensure_taints(self, node: Obj, wanted: set[str]) -> None:
        """Make the controller's NoExecute taints on `node` exactly `wanted` (merge patch;
        other taints are kept)."""
        taints = list((node.get("spec") or {}).get("taints") or [])
        ours = {t.get("key") for t in taints if t.get("key") in (UNREACHABLE, NOT_READY)}
        if ours == wanted:
            return
        kept = [t for t in taints if t.get("key") not in (UNREACHABLE, NOT_READY) or t.get("key") in wanted]
        stamp = rfc3339(self.clock.time())
        kept += [{"key": k, "effect": "NoExecute", "timeAdded": stamp} for k in sorted(wanted - ours)]
        self.client.patch(paths.path(NODES, None, name_of(node)), {"spec": {"taints": kept}})

    # ---- eviction ----------------------------------------------------------------------
    def _set_halted(self, halted: bool) -> None:
        if halted != self.halted:
            log.warning("evictions %s: %s", "halted" if halted else "resumed",
                        "most nodes are unhealthy, which looks like a network problem" if halted else
                        "enough nodes are healthy again")
        self.halted = halted

    def _evict_pods(self, nodes: list[Obj]) -> None:
        tainted = {name_of(n): _no_execute(n) for n in nodes}
        tainted = {n: t for n, t in tainted.items() if t}
        if not tainted:
            return
        now = self.clock.time()
        for pod in self.pods.items():
            node = (pod.get("spec") or {}).get("nodeName")
            if node not in tainted or is_terminating(pod) or is_terminal(pod) or is_mirror(pod):
                continue
            times = [t for t in (self._eviction_time(pod, taint) for taint in tainted[node]) if t is not None]
            if not times or min(times) > now:
                continue
            if self.halted or not self._take_token():
                return
            self._evict(pod, node)

    def _eviction_time(self, pod: Obj, taint: Obj) -> float | None:
        """When `pod` must leave because of `taint`: None if it tolerates it for ever."""
        added = parse_rfc3339(taint.get("timeAdded")) or self.clock.time()
        tolerations = (pod.get("spec") or {}).get("tolerations") or []
        for tol in tolerations:
            if tolerates(tol, taint.get("key", ""), taint.get("value", ""), taint.get("effect", "")):
                seconds = tol.get("tolerationSeconds")
                return None if seconds is None else added + max(0.0, float(seconds))
        if taint.get("key") in (UNREACHABLE, NOT_READY):
            return added + self.config.default_toleration
        return added  # an untolerated NoExecute taint: leave now

    def _take_token(self) -> bool:
        now = self.clock.monotonic()
        self._tokens = min(float(self.config.eviction_burst),
                           self._tokens + (now - self._refilled) * self.config.eviction_rate)
        self._refilled = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def _evict(self, pod: Obj, node: str) -> None:
        ns, name = namespace_of(pod), name_of(pod)
        try:
            self.client.delete(paths.path(PODS, ns, name))
        except StatusError as err:
            if not is_not_found(err):
                log.info("evicting %s/%s: %s", ns, name, err.message)
            return
        log.warning("evicted %s/%s from node %s", ns, name, node)
        if self.events:
            self.events.record(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {ns}/{name}")


def _no_execute(node: Obj) -> list[Obj]:
    return [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
