"""Node and pod views for the scheduler's unit tests."""

from __future__ import annotations

from typing import Any

from control_plane.scheduler.view import NodeView, PodView

GI = 1024**3


def node(name: str, cpu_m: int = 2000, mem: int = 4 * GI, **kw: Any) -> NodeView:
    """A ready, untainted, schedulable node (any field overridable)."""
    defaults: dict[str, Any] = {"labels": {}, "taints": [], "unschedulable": False, "ready": True}
    defaults.update(kw)
    return NodeView(name=name, alloc_cpu_m=cpu_m, alloc_mem=mem, **defaults)


def pod(cpu: str = "100m", mem: str = "128Mi", **spec: Any) -> PodView:
    """A pod requesting `cpu` and `mem`, with more PodSpec fields from `spec`."""
    obj = {"metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": mem}}}],
                    **spec}}
    return PodView.from_object(obj)
