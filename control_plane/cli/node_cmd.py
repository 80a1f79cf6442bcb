"""`skiff node join` (an agent on one host over SSH, like k3sup) and `skiff ssh` (a shell or
a command on a node, like `minikube ssh`)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import typer

from control_plane.cli.output import fail
from control_plane.cli.session import open_session

app = typer.Typer(help="Nodes over SSH.", no_args_is_help=True)
SOURCE = Path(__file__).resolve().parents[2]
SSH_KEY = typer.Option(..., "--ssh-key", help="Private key that logs in to the host.")
USER = typer.Option("root", "--user", help="The SSH user (root: the agent runs as root).")
KNOWN_HOSTS = typer.Option(
    [], "--known-hosts", help="A known_hosts file (repeat; ~/.ssh/known_hosts is read too)."
)
ACCEPT_NEW = typer.Option(
    False, "--accept-new-host-key", help="Trust an unknown host key and remember it (never a changed one)."
)


@app.command("join")
def join(
    ctx: typer.Context,
    host: str = typer.Argument(..., help="The host's IP address (its node address, too)."),
    ssh_key: Path = SSH_KEY,
    user: str = USER,
    port: int = typer.Option(22, "--port", help="The SSH port."),
    name: str | None = typer.Option(None, "--name", help="The node's name (default: the host's hostname)."),
    assets: Path = typer.Option(
        ...,
        "--assets",
        help="The cluster's assets directory (CA key; `skiff cluster assets`, site.yml's skiff_assets_dir).",
    ),
    wheelhouse: Path = typer.Option(
        SOURCE / "run/wheelhouse",
        "--wheelhouse",
        help="Wheelhouse directory (built from the source tree if missing).",
    ),
    known_hosts: list[Path] = KNOWN_HOSTS,
    accept_new: bool = ACCEPT_NEW,
    timeout: float = typer.Option(300.0, "--timeout", help="Seconds until the node must be Ready."),
) -> None:
    """Install Skiff on a host over SSH, start its agent and join it as a worker node;
    shows each step and ends when the node is Ready.  Safe to run again.

    Example:
      skiff --config admin.conf node join 10.0.0.7 --ssh-key ~/.ssh/id_ed25519 --assets ./skiff-assets
    """
    from control_plane.provision.assets import Assets
    from control_plane.provision.errors import JoinError, RemoteError, WheelhouseError
    from control_plane.provision.nodejoin import join as join_host
    from control_plane.provision.remote import Remote
    from control_plane.provision.wheelhouse import build

    session = open_session(ctx)
    if not (assets / "pki/ca.key").exists():
        fail(f"{assets} holds no cluster CA (pki/ca.key): give the cluster's assets directory")

    def progress(line: str) -> None:
        print(line, flush=True)

    try:
        progress("preparing the wheelhouse")
        made = build(SOURCE, wheelhouse)
        progress(f"connecting to {user}@{host}:{port}")
        with Remote(host, ssh_key, user, port, known_hosts, accept_new) as remote:
            joined = join_host(
                remote,
                host,
                name,
                Assets(assets),
                session.api,
                session.config.servers,
                made,
                progress,
                timeout,
            )
    except (JoinError, RemoteError, WheelhouseError) as err:
        fail(str(err))
    print(f"node/{joined} joined")


def ssh(
    ctx: typer.Context,
    node: str = typer.Argument(..., help="The node's name (its address comes from the API)."),
    command: list[str] = typer.Argument(None, help="A command to run (default: an interactive shell)."),
    ssh_key: Path = SSH_KEY,
    user: str = USER,
    port: int = typer.Option(22, "--port", help="The SSH port."),
    known_hosts: list[Path] = KNOWN_HOSTS,
) -> None:
    """Run a command on a node over SSH (its exit code is ours), or open a shell.

    Example:
      skiff ssh n1 --ssh-key ~/.ssh/id_ed25519 -- uptime
      skiff ssh n1 --ssh-key ~/.ssh/id_ed25519
    """
    from control_plane.api import paths
    from control_plane.provision.errors import RemoteError
    from control_plane.provision.remote import Remote

    session = open_session(ctx)
    with session.errors():
        obj = session.api.get(paths.path(paths.resource("nodes"), None, node))
    addresses = {a.get("type"): a.get("address") for a in (obj.get("status") or {}).get("addresses") or []}
    address = addresses.get("InternalIP") or addresses.get("Hostname")
    if not address:
        fail(f"node/{node} reports no address")
    if not command:
        _interactive(address, ssh_key, user, port, known_hosts)
    try:
        with Remote(address, ssh_key, user, port, known_hosts) as remote:
            code, out, err = remote.run(command, timeout=3600, check=False)
    except RemoteError as exc:
        fail(str(exc))
    sys.stdout.write(out)
    sys.stderr.write(err)
    raise typer.Exit(code)


def _interactive(address: str, key: Path, user: str, port: int, known_hosts: list[Path]) -> None:
    """A terminal session needs a real terminal client: hand over to OpenSSH's `ssh`."""
    binary = shutil.which("ssh")
    if binary is None:
        fail("an interactive shell needs OpenSSH's `ssh`; give a command to run it without")
    argv = [binary, "-i", str(key), "-p", str(port), "-o", "IdentitiesOnly=yes"]
    for f in known_hosts:
        argv += ["-o", f"UserKnownHostsFile={f}"]
    os.execv(binary, [*argv, f"{user}@{address}"])
