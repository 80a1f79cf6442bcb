"""Registering the Node, renewing its Lease, and posting its status.

Contract:
- `register()` creates the Node with labels, taints, capacity and status; if it
  exists (a re-join or an agent restart) its labels are merged and taints are left as
  they are (an admin may have changed them: Kubernetes' registerWithTaints applies
  only at creation).
- `renew()` updates `kube-node-lease/<node>` (creating it if missing); the controller
  manager reads it to tell a live node from a dead one.
- `post_status()` writes live usage and conditions through `nodes/status`.
- `run()` does both at their intervals until stopped; when the API is away it retries
  with back-off (capped at the interval) and the pods keep running.
"""

from __future__ import annotations

import logging
import threading
import time

from control_plane.api import paths
from control_plane.api.objects import Obj
from control_plane.client.clock import Clock, SystemClock, micro_rfc3339
from control_plane.client.errors import ApiClientError, StatusError, is_not_found
from control_plane.client.interface import Api
from node_agent import nodestatus
from node_agent.config import AgentConfig
from node_agent.runtime.base import Capabilities

log = logging.getLogger(__name__)
NODES, LEASES = paths.resource("nodes"), paths.resource("leases")
LEASE_SECONDS = 40


class NodeReporter:
    def __init__(
        self, api: Api, cfg: AgentConfig, caps: Capabilities, clock: Clock | None = None
    ) -> None:
        self.api, self.cfg, self.caps = api, cfg, caps
        self.clock: Clock = clock or SystemClock()
        self.node_path = paths.path(NODES, None, cfg.node_name)
        self.lease_path = paths.path(LEASES, "kube-node-lease", cfg.node_name)

    def labels(self) -> dict[str, str]:
        labels = {
            "kubernetes.io/hostname": self.cfg.node_name,
            "kubernetes.io/os": "linux",
            **self.cfg.labels,
        }
        if self.cfg.role == "control-plane":
            labels["node-role.kubernetes.io/control-plane"] = ""
        return labels

    def status(self, previous: Obj | None = None) -> Obj:
        s = nodestatus.sample(self.cfg.data_dir)
        cap, alloc = nodestatus.capacity(s)
        runtime = f"skiff-process://0.1 ({self.caps.message})"
        return {
            "capacity": cap,
            "allocatable": alloc,
            "usage": nodestatus.usage(s),
            "conditions": nodestatus.conditions(
                s,
                self.clock.time(),
                (previous or {}).get("conditions") or [],
                self.caps.message,
                self.caps.memory_limits,
            ),
            "addresses": [
                {"type": "InternalIP", "address": self.cfg.address},
                {"type": "Hostname", "address": self.cfg.node_name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.cfg.port}},
            "nodeInfo": nodestatus.node_info(runtime),
        }

    def register(self) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.cfg.node_name, "labels": self.labels()},
            "spec": {"taints": list(self.cfg.taints)},
            "status": self.status(),
        }
        try:
            self.api.create(paths.path(NODES), node)
            log.info("registered node %s", self.cfg.node_name)
        except StatusError as err:
            if err.code != 409:
                raise
            self.api.patch(self.node_path, {"metadata": {"labels": self.labels()}})
            log.info("node %s was registered before; labels updated", self.cfg.node_name)
        self.post_status()

    def post_status(self) -> None:
        current = self.api.get(self.node_path)
        self.api.replace(self.node_path + "/status", {"status": self.status(current.get("status"))})

    def renew(self) -> None:
        stamp = micro_rfc3339(self.clock.time())
        try:
            lease = self.api.get(self.lease_path)
        except StatusError as err:
            if not is_not_found(err):
                raise
            self.api.create(
                paths.path(LEASES, "kube-node-lease"),
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.cfg.node_name, "namespace": "kube-node-lease"},
                    "spec": {
                        "holderIdentity": self.cfg.node_name,
                        "leaseDurationSeconds": LEASE_SECONDS,
                        "renewTime": stamp,
                    },
                },
            )
            return
        lease.setdefault("spec", {}).update(
            {"holderIdentity": self.cfg.node_name, "renewTime": stamp, "leaseDurationSeconds": LEASE_SECONDS}
        )
        try:
            self.api.replace(self.lease_path, lease)
        except StatusError as err:
            if err.code != 409:  # 409: renewed concurrently; the next round wins
                raise

    def run(self, stop: threading.Event) -> None:
        """Renew and report at their intervals until `stop`; never raises."""
        next_lease = next_status = 0.0
        failures = 0
        while not stop.is_set():
            now = time.monotonic()
            try:
                if now >= next_lease:
                    self.renew()
                    next_lease = now + self.cfg.heartbeat_seconds
                if now >= next_status:
                    self.post_status()
                    next_status = now + self.cfg.status_seconds
                failures = 0
            except ApiClientError as err:
                failures += 1
                delay = min(self.cfg.heartbeat_seconds, 0.5 * 2 ** min(failures, 6))
                log.warning("heartbeat: %s (retrying in %.1fs)", err.message, delay)
                stop.wait(delay)
                continue
            stop.wait(max(0.05, min(next_lease, next_status) - time.monotonic()))
