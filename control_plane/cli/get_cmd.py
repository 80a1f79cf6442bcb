"""`skiff get`: list or show objects as a table, JSON or YAML, and optionally watch them."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

import typer
import yaml

from control_plane.api import paths
from control_plane.api.objects import Obj
from control_plane.api.resources import Resource
from control_plane.cli import printers
from control_plane.cli.output import Output, fail, table
from control_plane.cli.session import (
    NAMESPACE_OPTION,
    Session,
    explain_object_error,
    open_session,
    split_type_name,
)
from control_plane.client.errors import ApiClientError, StatusError, Unreachable

GET_OUTPUT = typer.Option(Output.table, "--output", "-o", help="table, wide, json or yaml")
WATCH_RETRIES = 5


def get(
    ctx: typer.Context,
    type_: str = typer.Argument(..., metavar="TYPE", help="pods, nodes, deployments, services, events, "
                                "namespaces or leases (short names: po, no, deploy, svc, ev, ns)."),
    name: str | None = typer.Argument(None, help="One object's name (default: all)."),
    namespace: str | None = NAMESPACE_OPTION,
    all_namespaces: bool = typer.Option(False, "--all-namespaces", "-A", help="List across all namespaces."),
    selector: str | None = typer.Option(None, "--selector", "-l", help="Label selector, e.g. app=web."),
    field_selector: str | None = typer.Option(None, "--field-selector",
                                              help="Field selector, e.g. spec.nodeName=w1."),
    output: Output = GET_OUTPUT,
    watch: bool = typer.Option(False, "--watch", "-w",
                               help="After the listing, print changes as they happen."),
    watch_timeout: float = typer.Option(0.0, "--watch-timeout",
                                        help="With --watch: stop after this many seconds (0: until Ctrl-C)."),
) -> None:
    """Show objects: a table for people, or JSON/YAML (a `List` for several objects).

    Example:
      skiff get pods -n default -o wide
      skiff get nodes
      skiff get deployment web -o yaml
      skiff get events -A --field-selector involvedObject.name=web-1
      skiff get pods -l app=web --watch
    """
    res, name = split_type_name(type_, name)
    session = open_session(ctx)
    ns = None if all_namespaces else session.namespace(namespace)
    if name and all_namespaces:
        fail("a resource cannot be retrieved by name across all namespaces")
    with session.errors():
        if name and not watch:
            try:
                obj = session.api.get(paths.path(res, ns, name))
            except ApiClientError as err:
                fail(explain_object_error(session, err, res, name, ns))
            show([obj], res, output, all_namespaces, single=True)
            return
        fields = _join(field_selector, f"metadata.name={name}" if name else None)
        listed = session.api.list(paths.path(res, ns), selector, fields)
        items = _sorted(res, listed.get("items") or [])
        if not items and output in (Output.table, Output.wide) and not watch:
            where = "" if ns is None or not res.namespaced else f" in {ns} namespace"
            print(f"No resources found{where}.", file=sys.stderr)
            return
        show(items, res, output, all_namespaces)
        if watch:
            after = str((listed.get("metadata") or {}).get("resourceVersion") or "")
            printer = Printer.after_table(res, items, output, all_namespaces)
            _watch(session, res, ns, (selector, fields), printer, after, watch_timeout)


def show(items: list[Obj], res: Resource, output: Output, all_namespaces: bool, single: bool = False) -> None:
    """Print objects: one object as itself, several as a kubectl `List`."""
    if output in (Output.json, Output.yaml):
        data: Obj = items[0] if single else {"apiVersion": "v1", "kind": "List", "items": items,
                                              "metadata": {"resourceVersion": ""}}
        _dump(data, output)
        return
    cols = printers.columns(res, output == Output.wide, all_namespaces)
    table(printers.headers(cols), printers.rows(items, cols, time.time()))


def _dump(data: Obj, output: Output) -> None:
    if output == Output.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
    sys.stdout.flush()


@dataclass(frozen=True)
class Printer:
    """Prints one watched object per line, aligned with the table printed before."""

    cols: list[printers.Column]
    widths: list[int]
    output: Output

    @classmethod
    def after_table(cls, res: Resource, shown: list[Obj], output: Output, all_namespaces: bool) -> Printer:
        """A printer whose columns line up with the table just printed for `shown`."""
        cols = printers.columns(res, output == Output.wide, all_namespaces)
        rows = printers.rows(shown, cols, time.time())
        widths = [max([len(c.header), *(len(r[i]) for r in rows)]) for i, c in enumerate(cols)]
        return cls(cols, widths, output)

    def __call__(self, obj: Obj) -> None:
        if self.output in (Output.json, Output.yaml):
            if self.output == Output.yaml:
                sys.stdout.write("---\n")
            _dump(obj, self.output)
            return
        cells = printers.rows([obj], self.cols, time.time())[0]
        padded = [cell.ljust(width) for cell, width in zip(cells[:-1], self.widths, strict=False)]
        sys.stdout.write("   ".join([*padded, cells[-1]]) + "\n")
        sys.stdout.flush()


def _watch(session: Session, res: Resource, ns: str | None, selectors: tuple[str | None, str | None],
           show_one: Printer, after: str, timeout: float) -> None:
    """Print each change after revision `after`; resume across dropped streams (relisting
    after a 410), until Ctrl-C or `timeout`."""
    end = time.monotonic() + timeout if timeout > 0 else None
    label, field = selectors
    failures = 0
    try:
        while end is None or time.monotonic() < end:
            left = 300 if end is None else max(1, int(end - time.monotonic()))
            try:
                for event in session.api.watch(paths.path(res, ns), after, min(left, 300), label, field):
                    obj = event.get("object") or {}
                    after = str((obj.get("metadata") or {}).get("resourceVersion") or after)
                    failures = 0
                    if event.get("type") != "BOOKMARK":
                        show_one(obj)
                    if end is not None and time.monotonic() >= end:
                        return
            except StatusError as err:
                if err.code != 410:
                    raise
                relisted = session.api.list(paths.path(res, ns), label, field)
                after = str(relisted["metadata"]["resourceVersion"])
            except Unreachable:
                failures += 1
                if failures > WATCH_RETRIES:
                    raise
                time.sleep(1.0)
    except KeyboardInterrupt:
        return


def _join(*selectors: str | None) -> str | None:
    parts = [s for s in selectors if s]
    return ",".join(parts) or None


def _sorted(res: Resource, items: list[Obj]) -> list[Obj]:
    if res.kind == "Event":
        return sorted(items, key=lambda e: str(e.get("lastTimestamp") or e.get("firstTimestamp") or ""))
    return sorted(items, key=lambda o: (str((o.get("metadata") or {}).get("namespace") or ""),
                                         str((o.get("metadata") or {}).get("name") or "")))
