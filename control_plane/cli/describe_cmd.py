"""`skiff describe TYPE NAME`: an object's key fields, conditions, and its Events."""

from __future__ import annotations

import sys
import time

import typer

from control_plane.api import paths
from control_plane.api.objects import TERMINAL_PHASES, Obj
from control_plane.api.resources import Resource
from control_plane.cli import describers
from control_plane.cli.output import fail
from control_plane.cli.session import NAMESPACE_OPTION, explain_object_error, open_session, split_type_name
from control_plane.client.apiclient import ApiClient
from control_plane.client.errors import ApiClientError

EVENTS, PODS = paths.resource("events"), paths.resource("pods")


def describe(
    ctx: typer.Context,
    type_: str = typer.Argument(..., metavar="TYPE", help="pods, nodes, deployments, ... (or TYPE/NAME)."),
    name: str | None = typer.Argument(None, help="The object's name."),
    namespace: str | None = NAMESPACE_OPTION,
) -> None:
    """Show one object in detail: key fields, conditions, and the Events about it.

    Example:
      skiff describe pod web-7d4b9
      skiff describe node w1
      skiff describe deployment/web -n staging
    """
    res, name = split_type_name(type_, name)
    if not name:
        fail(f"give the name of the {res.kind.lower()} to describe")
    session = open_session(ctx)
    ns = session.namespace(namespace) if res.namespaced else None
    with session.errors():
        try:
            obj = session.api.get(paths.path(res, ns, name))
        except ApiClientError as err:
            fail(explain_object_error(session, err, res, name, ns))
        sys.stdout.write(render(session.api, res, obj, time.time()))


def render(api: ApiClient, res: Resource, obj: Obj, now: float) -> str:
    """The whole description of `obj` (reads the node's pods and the object's Events)."""
    doc = describers.Doc()
    describers.common(doc, obj, res.namespaced)
    if res.kind == "Node":
        pods = api.list(paths.path(PODS), field=f"spec.nodeName={obj['metadata']['name']}")["items"]
        running = [p for p in pods if (p.get("status") or {}).get("phase") not in TERMINAL_PHASES]
        describers.describe_node(doc, obj, running, now)
    elif res.kind in describers.SIMPLE:
        describers.SIMPLE[res.kind](doc, obj)
    if res.kind != "Event":
        describers.events(doc, events_about(api, res, obj), now)
    return doc.render()


def events_about(api: ApiClient, res: Resource, obj: Obj) -> list[Obj]:
    """Events whose involvedObject is this object: same kind and name, and the same uid
    when the event records one (not a deleted namesake's)."""
    meta = obj["metadata"]
    ns = meta.get("namespace") if res.namespaced else None  # cluster-scoped: events in any namespace
    selector = f"involvedObject.name={meta['name']},involvedObject.kind={res.kind}"
    items = api.list(paths.path(EVENTS, ns), field=selector)["items"]
    uid = meta.get("uid")
    return [e for e in items if not (e.get("involvedObject") or {}).get("uid")
            or e["involvedObject"]["uid"] == uid]
