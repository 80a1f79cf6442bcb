"""`skiff scale`: set a Deployment's replicas through its `scale` subresource."""

from __future__ import annotations

import typer

from control_plane.api import paths
from control_plane.cli.output import fail
from control_plane.cli.session import (
    NAMESPACE_OPTION,
    explain_object_error,
    open_session,
    ref,
    split_type_name,
)
from control_plane.client.apiclient import ApiClient
from control_plane.client.errors import ApiClientError, StatusError

SCALABLE = ("Deployment",)
CONFLICT_RETRIES = 5


def scale(
    ctx: typer.Context,
    type_: str = typer.Argument(..., metavar="TYPE", help="deployment (or deployment/NAME)."),
    name: str | None = typer.Argument(None, help="The deployment's name."),
    replicas: int = typer.Option(..., "--replicas", min=0, help="The desired number of pods."),
    current_replicas: int | None = typer.Option(None, "--current-replicas", min=0,
                                                help="Precondition: scale only if it has this many now."),
    namespace: str | None = NAMESPACE_OPTION,
) -> None:
    """Set the number of replicas of a Deployment (its `scale` subresource).

    Example:
      skiff scale deployment web --replicas 5
      skiff scale deployment/web --replicas 0 -n staging
    """
    res, name = split_type_name(type_, name)
    if res.kind not in SCALABLE:
        fail(f"{res.plural} cannot be scaled: only deployments have a scale subresource")
    if not name:
        fail("give the name of the deployment to scale")
    session = open_session(ctx)
    ns = session.namespace(namespace)
    path = paths.path(res, ns, name, "scale")
    with session.errors():
        try:
            _scale(session.api, path, name, ns, replicas, current_replicas)
        except ApiClientError as err:
            fail(explain_object_error(session, err, res, name, ns))
    print(f"{ref(res, name)} scaled", flush=True)


def _scale(api: ApiClient, path: str, name: str, ns: str, replicas: int, expected: int | None) -> None:
    """PUT the Scale.  With `expected`, a compare-and-set on the version read (a 409 is
    the answer); without, a conflict with a concurrent status write is retried."""
    meta: dict[str, str] = {"name": name, "namespace": ns}
    if expected is not None:
        current = api.get(path)
        have = int((current.get("spec") or {}).get("replicas") or 0)
        if have != expected:
            fail(f"expected {expected} replicas of {name}, it has {have}; nothing changed")
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
    body = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": meta, "spec": {"replicas": replicas}}
    for attempt in range(CONFLICT_RETRIES):
        try:
            api.replace(path, body)
            return
        except StatusError as err:
            if err.code != 409 or expected is not None or attempt == CONFLICT_RETRIES - 1:
                raise
