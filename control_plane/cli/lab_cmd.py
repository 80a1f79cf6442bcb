"""`skiff lab ...`: lab hosts (network namespaces with sshd) for Ansible and chaos (root)."""

from __future__ import annotations

import typer

from control_plane.cli.output import OUTPUT_OPTION, Output, console, emit, fail

app = typer.Typer(
    help="Lab hosts on this machine: network namespaces with their own sshd (root).", no_args_is_help=True
)
NAME = typer.Option("lab", "--name", help="The lab's name (1-6 of a-z, 0-9).")


def _lab(name: str) -> object:
    from control_plane.devtools.lab.lab import Lab
    from control_plane.devtools.lab.netns import LabError

    try:
        return Lab(name)
    except LabError as err:
        fail(str(err))


@app.command("up")
def up(
    masters: int = typer.Option(3, "--masters", min=1, max=9),
    nodes: int = typer.Option(3, "--nodes", min=0, max=50),
    name: str = NAME,
    subnet: str = typer.Option("10.97.0.0/24", "--subnet", help="Private CIDR for the hosts."),
    output: Output = OUTPUT_OPTION,
) -> None:
    """Create lab hosts: a namespace per host on a bridge, own address, hostname, private
    /opt /etc/skiff /var/lib/skiff /var/log/skiff and an sshd; writes an Ansible
    inventory and an ssh config.

    Example:
      skiff lab up --masters 3 --nodes 2 --name demo
      ssh -F /var/lib/skiff-lab/demo/ssh_config m1 hostname
    """
    from control_plane.devtools.lab.lab import Lab
    from control_plane.devtools.lab.netns import LabError

    try:
        lab = Lab(name)
        with console.status(f"creating lab {name}: {masters} masters, {nodes} nodes"):
            lab.up(masters, nodes, subnet)
        emit(lab.status(), output) if output != Output.table else _show(lab.status())
    except (LabError, ValueError) as err:
        fail(str(err))


@app.command("add")
def add(role: str = typer.Option("node", "--role", help="master or node."), name: str = NAME) -> None:
    """Add one host to a lab (to join it to the cluster later).

    Example:
      skiff lab add --role node --name demo
    """
    from control_plane.devtools.lab.lab import Lab
    from control_plane.devtools.lab.netns import LabError

    if role not in ("master", "node"):
        fail("--role is master or node")
    try:
        host = Lab(name).add(role)
    except LabError as err:
        fail(str(err))
    console.print(f"added {host.name} ({host.role}) at {host.address}")


@app.command("status")
def status(name: str = NAME, output: Output = OUTPUT_OPTION) -> None:
    """Show a lab's hosts, the inventory and the ssh config (absolute paths).

    Example:
      skiff lab status --name demo -o json
    """
    from control_plane.devtools.lab.lab import Lab
    from control_plane.devtools.lab.netns import LabError

    try:
        data = Lab(name).status()
    except LabError as err:
        fail(str(err))
    emit(data, output) if output != Output.table else _show(data)


@app.command("partition")
def partition(
    host: str = typer.Argument(..., help="The host to cut off."),
    peers: str = typer.Option("", "--from", help="Comma-separated hosts (default: all others)."),
    name: str = NAME,
) -> None:
    """Cut a host off from all (or some) other hosts with nft rules in its namespace.

    Example:
      skiff lab partition m1 --from m2,m3 --name demo
    """
    from control_plane.devtools.lab.lab import Lab
    from control_plane.devtools.lab.netns import LabError

    try:
        cut = Lab(name).partition(host, [p for p in peers.split(",") if p])
    except LabError as err:
        fail(str(err))
    console.print(f"{host} is cut off from {', '.join(cut)}")


@app.command("heal")
def heal(name: str = NAME) -> None:
    """Remove every partition in a lab.

    Example:
      skiff lab heal --name demo
    """
    from control_plane.devtools.lab.lab import Lab
    from control_plane.devtools.lab.netns import LabError

    try:
        Lab(name).heal()
    except LabError as err:
        fail(str(err))
    console.print("healed")


@app.command("down")
def down(name: str = NAME) -> None:
    """Stop every process in the lab's hosts (by namespace and PID), remove namespaces,
    links, mounts and files.

    Example:
      skiff lab down --name demo
    """
    from control_plane.devtools.lab.lab import Lab
    from control_plane.devtools.lab.netns import LabError

    try:
        stopped = Lab(name).down()
    except LabError as err:
        fail(str(err))
    console.print(f"lab {name} is gone ({stopped} processes stopped)")


def _show(data: dict[str, object]) -> None:
    from control_plane.cli.output import table

    hosts = data["hosts"]
    assert isinstance(hosts, list)
    table(
        ["HOST", "ROLE", "ADDRESS", "SSHD"],
        [[h["name"], h["role"], h["address"], "up" if h["sshd"] else "down"] for h in hosts],
    )
    console.print(f"inventory: {data['inventory']}\nssh config: {data['ssh_config']}", highlight=False)
