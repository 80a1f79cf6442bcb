"""The controller manager's settings, one section per controller (Kubernetes'
KubeControllerManagerConfiguration in small).  Plain frozen data: no defaults live
anywhere else."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NodeLifecycleConfig:
    """Lab defaults; Kubernetes uses 40 s grace, 300 s toleration, 0.1 evictions/s."""

    grace_period: float = 20.0
    default_toleration: float = 30.0
    eviction_rate: float = 1.0
    eviction_burst: int = 2
    unhealthy_threshold: float = 0.55


@dataclass(frozen=True)
class ManagerConfig:
    node_lifecycle: NodeLifecycleConfig = field(default_factory=NodeLifecycleConfig)
    node_monitor_period: float = 1.0  # seconds between node lifecycle passes
    gc_period: float = 10.0  # seconds between garbage collections
    resync_period: float = 30.0  # seconds between full resyncs of keyed controllers
    deployment_workers: int = 2
