"""`skiff controller-manager`: run the controllers in the foreground (leader-elected)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import typer

from control_plane.cli import components as opts
from control_plane.cli.context import api_config


def controller_manager(
    ctx: typer.Context,
    leader_elect: bool = opts.LEADER_ELECT,
    lease: float = opts.LEASE,
    renew: float = opts.RENEW,
    retry: float = opts.RETRY,
    identity: str = opts.IDENTITY,
    grace: float = typer.Option(20.0, "--node-monitor-grace-period",
                                help="Seconds without a heartbeat before a node is Ready=Unknown "
                                     "(Kubernetes: 40)."),
    toleration: float = typer.Option(30.0, "--default-not-ready-toleration-seconds",
                                     help="Seconds a pod stays on an unreachable/not-ready node before "
                                          "eviction (Kubernetes: 300)."),
    eviction_rate: float = typer.Option(1.0, "--node-eviction-rate",
                                        help="Pods evicted per second at most (Kubernetes: 0.1)."),
    unhealthy_threshold: float = typer.Option(0.55, "--unhealthy-zone-threshold",
                                              help="Share of unhealthy nodes at which evictions stop."),
    monitor_period: float = typer.Option(1.0, "--node-monitor-period", help="Seconds between node checks."),
    gc_period: float = typer.Option(10.0, "--gc-period", help="Seconds between garbage collections."),
) -> None:
    """Run the controller manager: node lifecycle, deployments, garbage collection.

    Example:
      skiff --config /etc/skiff/admin.conf controller-manager \\
        --node-monitor-grace-period 20 --default-not-ready-toleration-seconds 30
    """
    from control_plane.client import component
    from control_plane.client.events import EventRecorder
    from control_plane.controllers.config import ManagerConfig, NodeLifecycleConfig
    from control_plane.controllers.manager import ControllerManager

    periods = (grace, toleration, eviction_rate, monitor_period, gc_period)
    if min(periods) <= 0 or not 0 < unhealthy_threshold <= 1:
        raise typer.BadParameter("periods, grace, toleration and rate must be > 0; the threshold in (0, 1]")
    component.setup_logging()
    election = opts.election(leader_elect, lease, renew, retry)
    client = api_config(ctx).client(user_agent="skiff-controller-manager", balance=True)
    name = identity or component.default_identity()
    config = ManagerConfig(NodeLifecycleConfig(grace, toleration, eviction_rate, 2, unhealthy_threshold),
                           monitor_period, gc_period)
    manager = ControllerManager(client, config, events=EventRecorder(client, "controller-manager", name))

    def work(stop: threading.Event, leading: Callable[[], bool]) -> None:
        manager.run(stop, leading)

    opts.run(client, "kube-controller-manager", name, election, work)
