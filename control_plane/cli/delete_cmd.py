"""`skiff delete`: delete objects by type and name, or those named in manifests."""

from __future__ import annotations

import typer

from control_plane.api import paths
from control_plane.api.resources import Resource
from control_plane.cli.apply_cmd import FILENAME_OPTION
from control_plane.cli.manifests import ManifestError, load
from control_plane.cli.output import error, fail
from control_plane.cli.session import (
    NAMESPACE_OPTION,
    Session,
    explain_object_error,
    is_object_not_found,
    open_session,
    quoted,
    split_type_name,
)
from control_plane.client.errors import StatusError


def delete(
    ctx: typer.Context,
    type_: str | None = typer.Argument(None, metavar="[TYPE]", help="pods, deployments, ... (or TYPE/NAME)."),
    names: list[str] | None = typer.Argument(None, metavar="[NAME]...", help="Names of objects to delete."),
    filenames: list[str] = FILENAME_OPTION,
    namespace: str | None = NAMESPACE_OPTION,
    grace_period: int | None = typer.Option(None, "--grace-period", min=0,
                                            help="Seconds a pod gets to stop (0: delete at once; "
                                                 "default: the pod's terminationGracePeriodSeconds)."),
    ignore_not_found: bool = typer.Option(False, "--ignore-not-found",
                                          help="An object that does not exist is not an error."),
) -> None:
    """Delete objects: `TYPE NAME...`, `TYPE/NAME`, or every object in manifests (`-f`).

    With `-f` the objects are deleted in reverse document order, so a Namespace that
    opens a file goes last.  A pod bound to a node is only marked for deletion
    (Terminating) until its agent stops it, unless `--grace-period 0`.

    Example:
      skiff delete pod web-1 -n default
      skiff delete deployment/web
      skiff delete -f web.yaml
      skiff delete pod stuck --grace-period 0
    """
    session = open_session(ctx)
    targets = _targets(session, type_, names or [], filenames, namespace)
    failed = 0
    with session.errors():
        for res, ns, name in targets:
            try:
                session.api.delete(paths.path(res, ns, name), grace_period)
            except StatusError as err:
                if ignore_not_found and is_object_not_found(err, res, name):
                    continue
                error(explain_object_error(session, err, res, name, ns))
                failed += 1
                continue
            print(f"{quoted(res, name)} deleted", flush=True)
    if failed:
        raise typer.Exit(1)


def _targets(session: Session, type_: str | None, names: list[str], filenames: list[str],
             namespace: str | None) -> list[tuple[Resource, str | None, str]]:
    """(resource, namespace, name) of each object to delete, in deletion order."""
    if filenames:
        if type_ or names:
            fail("give either TYPE NAME... or -f FILE, not both")
        try:
            manifests = load(filenames)
            placed = [(m.res, m.target_namespace(namespace, session.config.namespace), m.name)
                      for m in manifests]
        except ManifestError as err:
            fail(err.message)
        return list(reversed(placed))
    if not type_:
        fail("give TYPE NAME... (e.g. `skiff delete pod web-1`) or -f FILE")
    first = names[0] if names else None
    res, name = split_type_name(type_, first)
    wanted = [name, *names[1:]] if first is not None else ([name] if name else [])
    if not wanted:
        fail(f"give the name of the {res.kind.lower()} to delete (deleting all is not supported)")
    ns = session.namespace(namespace) if res.namespaced else None
    return [(res, ns, n) for n in wanted if n]
