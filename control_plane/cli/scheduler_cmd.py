"""`skiff scheduler`: run the scheduler in the foreground."""

from __future__ import annotations

import threading
from collections.abc import Callable

import typer

from control_plane.cli import components as opts
from control_plane.cli.context import api_config


def scheduler(
    ctx: typer.Context,
    leader_elect: bool = opts.LEADER_ELECT,
    lease: float = opts.LEASE,
    renew: float = opts.RENEW,
    retry: float = opts.RETRY,
    identity: str = opts.IDENTITY,
    bin_packing: bool = typer.Option(False, "--bin-packing",
                                     help="Score MostAllocated (fill nodes) instead of LeastAllocated."),
    percentage: float = typer.Option(0.0, "--percentage-of-nodes-to-score",
                                     help="Share of feasible nodes to find before scoring "
                                          "(0: Kubernetes' adaptive default)."),
) -> None:
    """Run the scheduler: binds pending pods to nodes; one active per cluster.

    Example:
      skiff --config /etc/skiff/admin.conf scheduler --leader-elect-lease-duration 4 \\
        --leader-elect-renew-deadline 3 --leader-elect-retry-period 0.5
    """
    from control_plane.client import component
    from control_plane.client.events import EventRecorder
    from control_plane.scheduler.profile import BIN_PACKING_PROFILE, DEFAULT_PROFILE
    from control_plane.scheduler.runner import Scheduler

    component.setup_logging()
    election = opts.election(leader_elect, lease, renew, retry)
    client = api_config(ctx).client(user_agent="skiff-scheduler", balance=True)
    name = identity or component.default_identity()
    sched = Scheduler(client, BIN_PACKING_PROFILE if bin_packing else DEFAULT_PROFILE,
                      EventRecorder(client, "default-scheduler", name),
                      percentage_of_nodes_to_score=percentage or None)

    def work(stop: threading.Event, leading: Callable[[], bool]) -> None:
        sched.start()
        sched.loop(stop, leading)
        sched.stop()

    opts.run(client, "kube-scheduler", name, election, work)
