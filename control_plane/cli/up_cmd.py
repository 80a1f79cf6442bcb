"""`skiff up` / `skiff down`: a whole HA cluster on this machine, without root."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from control_plane.api.objects import is_node_ready
from control_plane.cli.output import console, fail, table

DIR_OPTION = typer.Option(Path("run/cluster"), "--dir", help="Where the cluster's hosts and config live.")


def up(
    masters: int = typer.Option(3, "--masters", min=1, max=7, help="Master hosts (odd: 1, 3, 5, 7)."),
    nodes: int = typer.Option(2, "--nodes", min=0, max=50, help="Worker hosts."),
    directory: Path = DIR_OPTION,
    timeout: float = typer.Option(180.0, "--timeout", help="Seconds to wait for every node to be Ready."),
) -> None:
    """Create and start a local cluster: each host a directory and a 127.0.1.N address,
    an agent per host, the control plane as static pods on the masters.

    Example:
      skiff up --masters 3 --nodes 2 --dir run/cluster
      skiff --config run/cluster/config get nodes
    """
    from control_plane.devtools.localcluster import LocalCluster

    if masters % 2 == 0:
        fail(f"--masters {masters}: use an odd number, so the store keeps a majority when one fails")
    cluster = LocalCluster(directory, masters, nodes)
    cluster.discover()
    if cluster.running():
        fail(
            f"a cluster is already running in {directory} (hosts {', '.join(cluster.running())}); "
            f"`skiff down --dir {directory}` stops it"
        )
    if (directory / "hosts.yaml").exists():
        # A cluster that was taken down: start the same hosts again, from their data.
        if (len(cluster.masters), len(cluster.hosts) - len(cluster.masters)) != (masters, nodes):
            console.print(f"{directory} holds a cluster of {len(cluster.masters)} masters and "
                          f"{len(cluster.hosts) - len(cluster.masters)} workers: starting it as it is")
    else:
        cluster = LocalCluster(directory, masters, nodes)
    cluster.create()
    cluster.start()
    _wait_ready(cluster.config_file, [h.name for h in cluster.hosts], 4 * len(cluster.masters), timeout)
    console.print(f"cluster is up: `skiff --config {cluster.config_file} get nodes`")
    _show_nodes(cluster.config_file)


def down(directory: Path = DIR_OPTION) -> None:
    """Stop everything `skiff up` started in DIR (agents, then every pod), by pidfile.
    The cluster's data stays; `skiff up --dir DIR` starts it again.

    Example:
      skiff down --dir run/cluster
    """
    from control_plane.devtools.localcluster import LocalCluster

    cluster = LocalCluster(directory, 0, 0)
    cluster.discover()
    if not cluster.hosts:
        fail(f"no cluster in {directory}")
    stopped = cluster.down(lambda what: console.print(f"  {what}"))
    console.print(f"stopped {stopped} processes; nothing of the cluster in {directory} is running")


def _wait_ready(config: Path, hosts: list[str], control_pods: int, timeout: float) -> None:
    from control_plane.client.config import load
    from control_plane.client.errors import ApiClientError

    deadline = time.monotonic() + timeout
    api = load(config).client(timeout=5)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        nodes_task = bar.add_task(f"nodes Ready: 0/{len(hosts)}", total=len(hosts))
        pods_task = bar.add_task(f"control-plane pods Running: 0/{control_pods}", total=control_pods)
        while True:
            ready = running = 0
            try:
                ready = sum(1 for n in api.list("/api/v1/nodes")["items"] if is_node_ready(n))
                running = sum(
                    1
                    for p in api.list("/api/v1/namespaces/kube-system/pods")["items"]
                    if (p.get("status") or {}).get("phase") == "Running"
                )
            except ApiClientError:
                pass  # the API servers are still starting
            bar.update(nodes_task, completed=ready, description=f"nodes Ready: {ready}/{len(hosts)}")
            bar.update(
                pods_task,
                completed=min(running, control_pods),
                description=f"control-plane pods Running: {running}/{control_pods}",
            )
            if ready >= len(hosts) and running >= control_pods:
                return
            if time.monotonic() > deadline:
                fail(
                    f"the cluster did not come up in {timeout:.0f}s ({ready}/{len(hosts)} nodes Ready, "
                    f"{running}/{control_pods} control-plane pods Running); see the agents' logs under "
                    f"{config.parent}/hosts/*/var/log/skiff/"
                )
            time.sleep(1.0)


def _show_nodes(config: Path) -> None:
    from control_plane.cli import printers
    from control_plane.cli.session import lookup
    from control_plane.client.config import load

    api = load(config).client(timeout=10)
    res = lookup("nodes")
    cols = printers.columns(res, wide=True)
    table(printers.headers(cols), printers.rows(api.list("/api/v1/nodes")["items"], cols, time.time()))
