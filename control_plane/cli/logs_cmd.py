"""`skiff logs POD`: a pod's output, through the API server (which asks the node's agent)."""

from __future__ import annotations

import sys

import typer

from control_plane.api import paths
from control_plane.cli.output import fail
from control_plane.cli.session import NAMESPACE_OPTION, is_object_not_found, not_found, open_session
from control_plane.client.errors import StatusError

PODS = paths.resource("pods")


def logs(
    ctx: typer.Context,
    pod: str = typer.Argument(..., metavar="POD", help="The pod's name (or pod/NAME)."),
    namespace: str | None = NAMESPACE_OPTION,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new output until Ctrl-C."),
    container: str | None = typer.Option(None, "--container", "-c",
                                         help="The container (default: the pod's only one)."),
    tail: int | None = typer.Option(None, "--tail", min=0, help="Only the last N lines."),
) -> None:
    """Print a pod's logs (`GET .../pods/POD/log`).

    Exit code 1 with one line when the pod does not exist or its logs cannot be had
    (the pod is not running yet, or its node's agent is not reachable).

    Example:
      skiff logs web-7d4b9 -n default
      skiff logs web-7d4b9 -f --tail 20
    """
    name = pod.split("/", 1)[1] if pod.startswith(("pod/", "pods/", "po/")) else pod
    session = open_session(ctx)
    ns = session.namespace(namespace)
    params = {k: v for k, v in (("follow", "true" if follow else None), ("container", container),
                                ("tailLines", None if tail is None else str(tail))) if v}
    with session.errors():
        try:
            for chunk in session.api.stream_text(paths.path(PODS, ns, name, "log"), params):
                sys.stdout.write(chunk)
                sys.stdout.flush()
        except StatusError as err:
            if is_object_not_found(err, PODS, name):
                fail(not_found(PODS, name, ns))
            fail(f"cannot get the logs of pod/{name} in namespace {ns}: {err.message}")
        except KeyboardInterrupt:
            return
