"""`skiff drain NODE`: cordon a node, evict its pods, wait until they are gone (kubectl's
drain).

Contract:
- The node is cordoned first and stays cordoned whatever happens next (`uncordon`
  undoes it).
- Pods on the node (`spec.nodeName`, all namespaces) are sorted by `plan`: static
  (mirror) pods and DaemonSet pods are left alone; a pod that nothing owns (no
  ownerReferences) would be gone for good, so it is refused unless `--force`; when a
  pod is refused, nothing is evicted.
- Each pod is evicted through `pods/NAME/eviction` (a 429, "not now", is retried until
  the deadline); then drain waits until every evicted pod is deleted from the API (or
  replaced: another uid, or no longer on this node).  Without an agent on the node a
  graceful eviction only marks the pod Terminating, so use `--grace-period 0` there.
- One deadline (`--timeout`) covers evicting and waiting; past it, exit code 1 naming
  the pods still there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from control_plane.api import paths
from control_plane.api.objects import Obj, is_mirror, is_terminal, object_key
from control_plane.cli.cordon_cmd import NODE_ARGUMENT, NODES, change
from control_plane.cli.output import err_console, fail
from control_plane.cli.session import explain_object_error, open_session
from control_plane.client.apiclient import ApiClient
from control_plane.client.errors import ApiClientError, StatusError, is_not_found

PODS = paths.resource("pods")
POLL = 0.5


@dataclass
class DrainPlan:
    evict: list[Obj] = field(default_factory=list)
    ignored: dict[str, list[str]] = field(default_factory=dict)  # why -> pods left alone
    refused: list[str] = field(default_factory=list)  # unmanaged pods without --force
    forced: list[str] = field(default_factory=list)  # unmanaged pods evicted because of --force


key = object_key


def plan(pods: list[Obj], force: bool) -> DrainPlan:
    """Which pods to evict, which to leave, which block the drain (pure)."""
    out = DrainPlan()
    for pod in sorted(pods, key=key):
        meta = pod.get("metadata") or {}
        owners = [o for o in meta.get("ownerReferences") or [] if isinstance(o, dict)]
        if is_mirror(pod):
            out.ignored.setdefault("static (mirror) Pods", []).append(key(pod))
        elif any(o.get("kind") == "DaemonSet" for o in owners):
            out.ignored.setdefault("DaemonSet-managed Pods", []).append(key(pod))
        elif not owners and not force and not is_terminal(pod):  # a finished pod loses nothing
            out.refused.append(key(pod))
        else:
            if not owners and not is_terminal(pod):
                out.forced.append(key(pod))
            out.evict.append(pod)
    return out


def drain(
    ctx: typer.Context,
    node: str = NODE_ARGUMENT,
    timeout: float = typer.Option(120.0, "--timeout", min=1, help="Seconds to evict and wait, in all."),
    grace_period: int | None = typer.Option(None, "--grace-period", min=0,
                                            help="Seconds each pod gets to stop (default: the pod's own)."),
    force: bool = typer.Option(False, "--force", help="Also evict pods that nothing owns (they are lost)."),
) -> None:
    """Cordon a node and evict its pods (except static and DaemonSet pods), then wait for them.

    Exit code 0 when the node is empty, 1 on a refusal (unowned pods without --force),
    an error, or the timeout.

    Example:
      skiff drain w1
      skiff drain w1 --grace-period 0 --timeout 60 --force
    """
    session = open_session(ctx)
    deadline = time.monotonic() + timeout
    change(session, node, True)
    with session.errors():
        try:
            pods = session.api.list(paths.path(PODS), field=f"spec.nodeName={node}")["items"]
        except ApiClientError as err:
            fail(explain_object_error(session, err, NODES, node, None))
        todo = plan(pods, force)
        for why, names in todo.ignored.items():
            err_console.print(f"Warning: ignoring {why}: {', '.join(names)}", highlight=False, markup=False)
        if todo.refused:
            fail(f'unable to drain node "{node}": cannot delete Pods that declare no controller '
                 f"(use --force to override): {', '.join(todo.refused)}")
        if todo.forced:
            err_console.print(f"Warning: deleting Pods that declare no controller: {', '.join(todo.forced)}",
                              highlight=False, markup=False)
        evicted = evict_all(session.api, todo.evict, grace_period, deadline)
        wait_gone(session.api, node, evicted, deadline, timeout)
    print(f"node/{node} drained", flush=True)


def evict_all(api: ApiClient, pods: list[Obj], grace: int | None, deadline: float) -> list[Obj]:
    """Evict each pod, retrying 429s until `deadline`; returns the pods evicted (or
    already gone)."""
    pending, done = list(pods), []
    told: set[str] = set()
    while pending:
        for pod in list(pending):
            try:
                _evict(api, pod, grace)
            except StatusError as err:
                if err.code == 429:
                    if key(pod) not in told:
                        err_console.print(f"error when evicting pods/{key(pod)} (will retry): {err.message}",
                                          highlight=False, markup=False)
                        told.add(key(pod))
                    continue
                if not is_not_found(err):
                    raise
            print(f"evicting pod {key(pod)}", flush=True)
            pending.remove(pod)
            done.append(pod)
        if pending:
            if time.monotonic() >= deadline:
                fail(f"timed out evicting {len(pending)} pod(s): {', '.join(key(p) for p in pending)} "
                     "(the eviction was refused with 429 until the deadline)")
            time.sleep(1.0)
    return done


def _evict(api: ApiClient, pod: Obj, grace: int | None) -> None:
    meta = pod["metadata"]
    body: Obj = {"apiVersion": "policy/v1", "kind": "Eviction",
                 "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
    if grace is not None:
        body["deleteOptions"] = {"gracePeriodSeconds": grace}
    api.create(paths.path(PODS, meta["namespace"], meta["name"], "eviction"), body)


def wait_gone(api: ApiClient, node: str, evicted: list[Obj], deadline: float, timeout: float) -> None:
    """Wait, with a progress bar, until no evicted pod (same uid) is left on `node`."""
    waiting = {str(p["metadata"].get("uid")): p for p in evicted}
    columns = (TextColumn("waiting for pods to leave"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task("drain", total=len(waiting))
        while waiting:
            on_node = api.list(paths.path(PODS), field=f"spec.nodeName={node}")["items"]
            present = {str(p["metadata"].get("uid")) for p in on_node}
            for uid in [u for u in waiting if u not in present]:
                print(f"pod/{waiting.pop(uid)['metadata']['name']} evicted", flush=True)
                bar.advance(task)
            if not waiting:
                break
            if time.monotonic() >= deadline:
                left = ", ".join(sorted(key(p) for p in waiting.values()))
                fail(f"timed out after {timeout:g}s waiting for {len(waiting)} pod(s) to leave node "
                     f"{node}: {left} (they may be Terminating: is the node's agent running? "
                     "--grace-period 0 deletes at once); the node stays cordoned")
            time.sleep(POLL)
