"""`skiff cluster status`: is each master's API server up, which store member leads, and
who holds the scheduler and controller-manager Leases."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import typer

from control_plane.api import defaults
from control_plane.api.objects import Obj
from control_plane.cli.context import api_config
from control_plane.cli.humanize import duration
from control_plane.cli.output import OUTPUT_OPTION, Output, emit, fail, table
from control_plane.client.apiclient import ApiClient
from control_plane.client.clock import parse_rfc3339
from control_plane.client.config import ClientConfig
from control_plane.client.errors import ApiClientError

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
    return [
        m.get("name") or m.get("memberId", "?"),
        m["endpoint"],
        role,
        str(m.get("raftTerm", "")),
        str(m.get("revision", "")),
    ]


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


@app.command("assets")
def assets(
    directory: Path = typer.Option(..., "--dir", help="Where the assets live on the controller."),
    masters: list[str] = typer.Option([], "--master", help="NAME=ADDRESS of a master (repeat)."),
    nodes: list[str] = typer.Option([], "--node", help="NAME=ADDRESS of a worker node (repeat)."),
    install_dir: str = typer.Option(defaults.INSTALL_DIR, "--install-dir",
                                    help="Where Skiff is installed on hosts."),
    version: str = typer.Option("", "--version", help="The installed version (in the manifests)."),
    build: str = typer.Option(
        "", "--build", help="The installed build (`skiff cluster wheelhouse`'s digest)."
    ),
    lease_duration: float = typer.Option(defaults.LEASE_DURATION, "--leader-elect-lease-duration",
                                         help="For the components."),
    renew_deadline: float = typer.Option(defaults.RENEW_DEADLINE, "--leader-elect-renew-deadline",
                                         help="For the components."),
    retry_period: float = typer.Option(defaults.RETRY_PERIOD, "--leader-elect-retry-period",
                                       help="For the components."),
    output: Output = OUTPUT_OPTION,
) -> None:
    """Make the cluster's CA, host certificates, tokens and store secret (what is missing
    only; a host's certificate is re-issued when its address changed), and each host's
    /etc/skiff as `hosts/NAME/etc-skiff.tar` (rewritten only when it changed).  Prints
    what it wrote, or `unchanged`.  Used by the Ansible playbooks and `skiff node join`.

    Example:
      skiff cluster assets --dir ./assets --master m1=10.0.0.1 --master m2=10.0.0.2 \\
        --master m3=10.0.0.3 --node n1=10.0.0.4
    """
    from control_plane.provision.assets import Assets, parse_hosts
    from control_plane.provision.bundle import Settings, write_bundle

    try:
        master_specs = parse_hosts(masters, "master")
        hosts = master_specs + parse_hosts(nodes, "node")
        made = Assets(directory)
        written = made.ensure(hosts)
        settings = Settings(
            install_dir=install_dir,
            version=version,
            build=build,
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
            taint_masters=len(hosts) > 1,
        )
        for host in hosts:
            bundle = write_bundle(made, host, master_specs, settings)
            if bundle is not None:
                written.append(str(bundle.relative_to(made.root)))
    except (ValueError, OSError) as err:
        fail(str(err))
    if output == Output.table:
        print("\n".join(f"wrote {w}" for w in written) or "unchanged")
    else:
        emit({"dir": str(directory.resolve()), "written": written}, output)


@app.command("wheelhouse")
def wheelhouse(
    source: Path = typer.Option(
        Path(__file__).resolve().parents[2],
        "--source",
        help="Skiff's source tree (default: the one this skiff runs from).",
    ),
    out: Path = typer.Option(..., "--out", help="The wheelhouse directory (OUT.tar is made next to it)."),
    output: Output = OUTPUT_OPTION,
) -> None:
    """Build the wheelhouse hosts install from, offline: Skiff and its dependencies in one
    tar.  Rebuilt only when the source changed; prints `built DIGEST` or `unchanged DIGEST`.

    Example:
      skiff cluster wheelhouse --out run/wheelhouse
    """
    from control_plane.provision.errors import WheelhouseError
    from control_plane.provision.wheelhouse import build

    try:
        made = build(source, out)
    except (WheelhouseError, OSError, subprocess.TimeoutExpired) as err:
        fail(str(err))
    if output == Output.table:
        print(f"{'built' if made.changed else 'unchanged'} {made.digest}")
    else:
        emit({"changed": made.changed, "digest": made.digest, "tar": str(made.tar)}, output)
