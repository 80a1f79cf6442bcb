"""`skiff wait`: wait until objects have a condition (like `kubectl wait --for=condition=...`).

Differences from kubectl, on purpose (this is what provisioning needs): a *named* object
that does not exist yet is waited for, not an error (a node registers a while after its
agent starts), and connection failures are retried until the deadline (masters may
still be starting).  `--all` waits for the objects that exist at each look.
"""

from __future__ import annotations

import time
from typing import Any

import typer

from control_plane.api import paths
from control_plane.api.objects import Obj
from control_plane.api.resources import Resource
from control_plane.cli.output import fail
from control_plane.cli.session import NAMESPACE_OPTION, open_session, ref, split_type_name
from control_plane.client.errors import ApiClientError

POLL = 1.0


def parse_for(spec: str) -> tuple[str, str]:
    """`condition=Ready` or `condition=Ready=False` -> (type, status); exits if malformed."""
    kind, _, rest = spec.partition("=")
    cond, _, status = rest.partition("=")
    if kind != "condition" or not cond:
        fail(f"--for {spec!r}: use condition=TYPE or condition=TYPE=STATUS, e.g. condition=Ready")
    return cond, status or "True"


def condition_of(obj: Obj, cond: str) -> Obj | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == cond:
            return c
    return None


def pending_reason(obj: Obj | None, cond: str) -> str:
    """Why an object is still waited for, in a few words."""
    if obj is None:
        return "does not exist yet"
    c = condition_of(obj, cond)
    if c is None:
        return f"has no {cond} condition yet"
    why = c.get("reason") or c.get("message") or ""
    return f"{cond} is {c.get('status')}" + (f" ({why})" if why else "")


def wait(
    ctx: typer.Context,
    type_name: str = typer.Argument(..., metavar="TYPE[/NAME]", help="nodes, pods, deployments, ..."),
    names: list[str] = typer.Argument(None, metavar="[NAME]...", help="Objects to wait for."),
    condition: str = typer.Option(..., "--for", help="condition=TYPE[=STATUS] (STATUS defaults to True)."),
    all_objects: bool = typer.Option(False, "--all", help="Every object of the type (in the namespace)."),
    namespace: str | None = NAMESPACE_OPTION,
    timeout: float = typer.Option(300.0, "--timeout", help="Seconds to wait at most."),
) -> None:
    """Wait until objects have a condition; prints `TYPE/NAME condition met` for each as it
    happens.  Exit code 1 at the deadline, naming what is still pending and why.

    Example:
      skiff wait nodes m1 m2 n1 --for condition=Ready --timeout 300
      skiff wait pods --all -n kube-system --for condition=Ready
    """
    res, first = split_type_name(type_name, None)  # `node/m1` names one object too
    wanted = list(dict.fromkeys([*([first] if first else []), *(names or [])]))
    if bool(wanted) == all_objects:
        fail("name the objects to wait for, or give --all (not both)")
    cond, status = parse_for(condition)
    session = open_session(ctx, timeout=min(10.0, timeout))
    ns = session.namespace(namespace) if res.namespaced else None
    deadline = time.monotonic() + timeout
    met: set[str] = set()
    seen: dict[str, Obj | None] = {}
    last_error = ""
    while True:
        try:
            seen = _look(session.api, res, ns, wanted)
            last_error = ""
        except ApiClientError as err:
            last_error = session.explain(err)
        for obj_name, obj in seen.items():
            c = condition_of(obj, cond) if obj is not None else None
            if obj_name not in met and c is not None and c.get("status") == status:
                met.add(obj_name)
                print(f"{ref(res, obj_name)} condition met", flush=True)
        if seen and not last_error and all(n in met for n in seen):
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
    waiting = [f"{ref(res, n)} {pending_reason(o, cond)}" for n, o in seen.items() if n not in met]
    detail = "; ".join(waiting) or last_error or f"no {res.plural} exist"
    fail(f"timed out after {timeout:.0f} s waiting for {cond}={status}: {detail}")


def _look(api: Any, res: Resource, ns: str | None, wanted: list[str]) -> dict[str, Obj | None]:
    """The wanted objects by name (None if missing), or every object when none is named."""
    listed = api.get(paths.path(res, ns)).get("items") or []
    by_name = {(o.get("metadata") or {}).get("name", ""): o for o in listed}
    if not wanted:
        return dict(by_name)
    return {n: by_name.get(n) for n in wanted}
