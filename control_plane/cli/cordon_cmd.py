"""`skiff cordon` / `skiff uncordon`: mark a node (un)schedulable (`spec.unschedulable`)."""

from __future__ import annotations

import typer

from control_plane.api import paths
from control_plane.cli.output import fail
from control_plane.cli.session import Session, explain_object_error, open_session, ref
from control_plane.client.apiclient import ApiClient
from control_plane.client.errors import ApiClientError

NODES = paths.resource("nodes")
NODE_ARGUMENT = typer.Argument(..., metavar="NODE", help="The node's name.")


def set_unschedulable(api: ApiClient, node: str, unschedulable: bool) -> bool:
    """Set or clear `spec.unschedulable` with a merge patch; False if it already was so.
    Idempotent; the patch applies to the latest version, so it never conflicts."""
    current = api.get(paths.path(NODES, None, node))
    if bool((current.get("spec") or {}).get("unschedulable")) == unschedulable:
        return False
    # null removes the field, as an uncordoned node in Kubernetes has none.
    api.patch(paths.path(NODES, None, node), {"spec": {"unschedulable": True if unschedulable else None}})
    return True


def change(session: Session, node: str, unschedulable: bool) -> None:
    """Cordon or uncordon `node` and say so (kubectl's wording); exits on errors."""
    with session.errors():
        try:
            changed = set_unschedulable(session.api, node, unschedulable)
        except ApiClientError as err:
            fail(explain_object_error(session, err, NODES, node, None))
    word = "cordoned" if unschedulable else "uncordoned"
    print(f"{ref(NODES, node)} {word if changed else 'already ' + word}", flush=True)


def cordon(ctx: typer.Context, node: str = NODE_ARGUMENT) -> None:
    """Mark a node unschedulable: the scheduler places no new pods on it; running pods stay.

    Example:
      skiff cordon w1
    """
    change(open_session(ctx), node, True)


def uncordon(ctx: typer.Context, node: str = NODE_ARGUMENT) -> None:
    """Mark a node schedulable again.

    Example:
      skiff uncordon w1
    """
    change(open_session(ctx), node, False)
