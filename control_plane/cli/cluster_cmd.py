"""`skiff cluster status`: is each master's API server up, which store member leads, and
who holds the scheduler and controller-manager Leases."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import typer

from control_plane.apiclient.client import ApiClient
from control_plane.apiclient.config import ClientConfig
from control_plane.apiclient.errors import ApiClientError
from control_plane.cli.context import api_config
from control_plane.cli.humanize import duration
from control_plane.cli.output import OUTPUT_OPTION, Output, emit, table
from control_plane.clock import parse_rfc3339

Obj = dict[str, Any]
STATUS_PATH = "/apis/skiff.io/v1/clusterstatus"
COMPONENTS = (("scheduler", "kube-scheduler"), ("controller-manager", "kube-controller-manager"))
app = typer.Typer(help="The cluster as a whole.", no_args_is_help=True)


def probe(api: ApiClient, url: str, timeout: float) -> Obj:
    """One API server's `/readyz`, one attempt (ready means it reaches a store quorum)."""
    problem = api.probe(url, "/readyz", timeout)
    return {"url": url, "ready": True} if problem is None else {"url": url, "ready": False, "error": problem}


def gather(config: ClientConfig, timeout: float) -> Obj:
    """API servers (probed in parallel) and the store as any API server reports it."""
    with config.client(timeout=timeout * 2, user_agent="skiff-cli") as api:
        with ThreadPoolExecutor(max_workers=len(config.servers)) as pool:
            apis = list(pool.map(lambda u: probe(api, u, timeout), config.servers))
        out: Obj = {"apiServers": apis}
        try:
            reported = api.get(STATUS_PATH)
        except ApiClientError as err:
            out["store"] = {"members": [], "error": err.message}
            return out
    out["store"] = reported.get("store") or {"members": []}
    out["leases"] = reported.get("leases") or {}
    return out


@app.command("status")
def status(
    ctx: typer.Context,
    output: Output = OUTPUT_OPTION,
    timeout: float = typer.Option(3.0, "--timeout", help="Seconds to wait for each API server."),
) -> None:
    """Show the masters' API servers and store members, the store leader, and the component leaders.

    Per API server URL: up or DOWN (`/readyz`); per store member: reachable, leader or
    follower, Raft term and revision; then who holds the scheduler's and the controller
    manager's Leases.

    Exit code 0 when some API server answered and the store has a leader, else 1.

    Example:
      skiff cluster status
      skiff cluster status -o json
    """
    data = gather(api_config(ctx), timeout)
    members = data["store"].get("members") or []
    healthy = any(a["ready"] for a in data["apiServers"]) and any(m.get("leader") for m in members)
    if output in (Output.json, Output.yaml):
        emit(data, output)
    else:
        show(data)
    if not healthy:
        raise typer.Exit(1)


def show(data: Obj) -> None:
    members = list(data["store"].get("members") or [])
    rows = []
    for api in data["apiServers"]:
        member = _take(members, urlsplit(api["url"]).hostname or "")
        rows.append([api["url"], "up" if api["ready"] else "DOWN", *_member_cells(member)])
    rows.extend(["-", "-", *_member_cells(m)] for m in members)
    table(["API SERVER", "API", "STORE MEMBER", "ENDPOINT", "LEADER", "TERM", "REVISION"], rows)
    for api in data["apiServers"]:
        if not api["ready"]:
            print(f"{api['url']}: {api.get('error', '')}")
    if data["store"].get("error"):
        print(f"store: unknown: {data['store']['error']}")
    leases = data.get("leases") or {}
    for label, lease_name in COMPONENTS:
        print(f"{label}: {_holder(leases.get(lease_name), time.time())}")


def _take(members: list[Obj], host: str) -> Obj | None:
    """The store member on the same host as an API server (removed from `members`)."""
    for m in members:
        if str(m.get("endpoint", "")).rsplit(":", 1)[0] == host:
            members.remove(m)
            return m
    return None


def _member_cells(m: Obj | None) -> list[str]:
    if m is None:
        return ["-", "-", "-", "-", "-"]
    if not m.get("reachable"):
        return [m.get("name") or "?", m["endpoint"], "UNREACHABLE", "-", "-"]
    role = "leader" if m.get("leader") else "follower"
    return [m.get("name") or m.get("memberId", "?"), m["endpoint"], role, str(m.get("raftTerm", "")),
            str(m.get("revision", ""))]


def _holder(lease: Obj | None, now: float) -> str:
    if not lease or not lease.get("holderIdentity"):
        return "<none>"
    text = str(lease["holderIdentity"])
    renewed = parse_rfc3339(lease.get("renewTime"))
    if renewed is None:
        return text
    ago = now - renewed
    expired = isinstance(lease.get("leaseDurationSeconds"), int) and ago > lease["leaseDurationSeconds"]
    return f"{text} (renewed {duration(ago)} ago{', lease expired' if expired else ''})"
