"""Options shared by the leader-elected components' commands."""

from __future__ import annotations

import typer

from control_plane.api import defaults
from control_plane.cli.output import fail
from control_plane.client import component
from control_plane.client.apiclient import ApiClient
from control_plane.client.leaderelection import ElectionConfig

LEADER_ELECT = typer.Option(True, "--leader-elect/--no-leader-elect",
                            help="Elect one active instance with a Lease in kube-system.")
LEASE = typer.Option(defaults.LEASE_DURATION, "--leader-elect-lease-duration",
                     help="Seconds a leader's lease lasts.")
RENEW = typer.Option(defaults.RENEW_DEADLINE, "--leader-elect-renew-deadline",
                     help="Seconds a leader keeps trying to renew before it steps down.")
RETRY = typer.Option(defaults.RETRY_PERIOD, "--leader-elect-retry-period",
                     help="Seconds between election rounds.")
IDENTITY = typer.Option("", "--identity", help="This instance's name in the Lease (default: host_pid_uuid).")


def election(enabled: bool, lease: float, renew: float, retry: float) -> ElectionConfig | None:
    if not enabled:
        return None
    try:
        return ElectionConfig(lease, renew, retry)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


def run(client: ApiClient, lock_name: str, identity: str, election: ElectionConfig | None,
        work: component.Work) -> None:
    """`component.run`, with a dead work thread as one line and exit code 1 (after the
    lease was released), so the supervisor restarts the component."""
    try:
        component.run(client, lock_name, identity, election, work)
    except component.WorkDied as err:
        fail(str(err))
