"""Hollow nodes (Kubernetes' kubemark idea): Node objects with simulated capacity and
usage, registered through the API like a real agent would, but with no agent behind
them.  They carry the label `skiff.io/hollow=true` and say so in nodeInfo, so nobody
mistakes them for machines.  Used by tests and `bench/scheduler.py`.
"""

from __future__ import annotations

from control_plane.api import paths
from control_plane.api.objects import Obj
from control_plane.client.apiclient import ApiClient
from control_plane.client.clock import rfc3339

NODES = paths.resource("nodes")
HOLLOW_LABEL = "skiff.io/hollow"


def hollow_node(name: str, cpu: str = "4", memory: str = "8Gi", labels: dict[str, str] | None = None,
                taints: list[Obj] | None = None, ready: bool = True, cpu_used: float = 0.1,
                mem_used: float = 0.2, now: float = 0.0) -> Obj:
    stamp = rfc3339(now) if now else None
    condition: Obj = {"type": "Ready", "status": "True" if ready else "False",
                      "reason": "HollowNodeReady" if ready else "HollowNodeNotReady",
                      "message": "simulated node (no agent)"}
    if stamp:
        condition.update({"lastHeartbeatTime": stamp, "lastTransitionTime": stamp})
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, HOLLOW_LABEL: "true",
                                              **(labels or {})}},
        "spec": {"taints": list(taints or [])},
        "status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "conditions": [condition],
            "usage": {"cpuFraction": cpu_used, "memoryFraction": mem_used},
            "nodeInfo": {"operatingSystem": "linux", "kubeletVersion": "hollow",
                         "osImage": "hollow node (simulated)"},
        },
    }


def register(client: ApiClient, node: Obj) -> Obj:
    """Create the Node, then write its status through `nodes/status` (as an agent does)."""
    created = client.create(paths.path(NODES), node)
    body = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "status": node["status"]}
    return client.replace(paths.path(NODES, None, node["metadata"]["name"], "status"), body)
