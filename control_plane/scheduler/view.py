"""What the scheduler knows about a node and a pod, read from API objects.

Pure data: building a view does no I/O; plugins are pure functions of (pod, node view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from control_plane.api.objects import Obj, is_node_ready
from control_plane.api.quantity import cpu_millis, memory_bytes


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str


@dataclass(frozen=True)
class PodView:
    name: str
    namespace: str
    cpu_m: int  # requested millicores (sum over containers)
    mem: int  # requested bytes
    node_selector: dict[str, str]
    tolerations: tuple[Obj, ...]
    required_terms: tuple[Obj, ...]  # nodeAffinity requiredDuringScheduling nodeSelectorTerms

    @staticmethod
    def from_object(pod: Obj) -> PodView:
        spec = pod.get("spec") or {}
        cpu = mem = 0
        for c in spec.get("containers") or []:
            requests = (c.get("resources") or {}).get("requests") or {}
            cpu += cpu_millis(requests.get("cpu", 0))
            mem += memory_bytes(requests.get("memory", 0))
        affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution") or {}
        meta = pod.get("metadata") or {}
        return PodView(meta.get("name", ""), meta.get("namespace", "default"), cpu, mem,
                       dict(spec.get("nodeSelector") or {}), tuple(spec.get("tolerations") or ()),
                       tuple(affinity.get("nodeSelectorTerms") or ()))


@dataclass
class NodeView:
    name: str
    labels: dict[str, str]
    taints: list[Taint]
    unschedulable: bool
    ready: bool
    alloc_cpu_m: int
    alloc_mem: int
    requested_cpu_m: int = 0  # by pods already bound here
    requested_mem: int = 0
    used_cpu_fraction: float | None = None  # live usage reported by the agent (0..1)
    used_mem_fraction: float | None = None
    pods: set[str] = field(default_factory=set)

    @staticmethod
    def from_object(node: Obj) -> NodeView:
        meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
        alloc = status.get("allocatable") or status.get("capacity") or {}
        ready = is_node_ready(node)
        usage = status.get("usage") or {}  # Skiff extension: live usage from psutil
        return NodeView(
            name=meta.get("name", ""), labels=dict(meta.get("labels") or {}),
            taints=[Taint(t.get("key", ""), t.get("value", ""), t.get("effect", ""))
                    for t in spec.get("taints") or []],
            unschedulable=bool(spec.get("unschedulable")), ready=ready,
            alloc_cpu_m=cpu_millis(alloc.get("cpu", 0)), alloc_mem=memory_bytes(alloc.get("memory", 0)),
            used_cpu_fraction=_fraction(usage.get("cpuFraction")),
            used_mem_fraction=_fraction(usage.get("memoryFraction")))

    def add_pod(self, pod: PodView) -> None:
        """Count `pod`'s requests on this node (idempotent per pod)."""
        key = f"{pod.namespace}/{pod.name}"
        if key not in self.pods:
            self.pods.add(key)
            self.requested_cpu_m += pod.cpu_m
            self.requested_mem += pod.mem

    def remove_pod(self, pod: PodView) -> None:
        """Stop counting `pod` (idempotent)."""
        key = f"{pod.namespace}/{pod.name}"
        if key in self.pods:
            self.pods.discard(key)
            self.requested_cpu_m -= pod.cpu_m
            self.requested_mem -= pod.mem

    def scheduling_fields(self) -> tuple[object, ...]:
        """What filters read, apart from pods: a change here may make a pod schedulable."""
        return (self.labels, self.taints, self.unschedulable, self.ready, self.alloc_cpu_m, self.alloc_mem)


def _fraction(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return min(1.0, max(0.0, f))
