"""`skiff store local up|down`: a store of real member processes on this machine's
loopback (127.0.1.N), for trying the store out; it drives `devtools.storecluster`."""

from __future__ import annotations

from pathlib import Path

import typer

from control_plane.cli.output import OUTPUT_OPTION, Output, emit, err_console, fail

local_app = typer.Typer(help="A store of real member processes on this machine's loopback (127.0.1.N).",
                        no_args_is_help=True)
LOCAL_DIR = typer.Option(Path("run/store"), "--dir", help="Where members keep data, logs and pidfiles.")


@local_app.command("up")
def local_up(directory: Path = LOCAL_DIR,
             size: int = typer.Option(3, "--members", help="Number of members (odd: 1, 3, 5)."),
             subnet: str = typer.Option("127.0.1", "--subnet",
                                        help="Members listen on SUBNET.1, SUBNET.2, ... (a 127.x.y prefix)."),
             output: Output = OUTPUT_OPTION) -> None:
    """Start N members on 127.0.1.1.. with the default ports and wait for a leader.

    Example: skiff store local up --dir run/store --members 3
    """
    from rich.status import Status

    from control_plane.devtools.storecluster import LocalStore

    if size < 1 or size % 2 == 0:
        fail("--members must be odd (1, 3, 5, ...): an even count adds no fault tolerance")
    parts = subnet.split(".")
    if len(parts) != 3 or parts[0] != "127" or not all(p.isdigit() and int(p) < 256 for p in parts):
        fail(f"--subnet {subnet}: give a loopback prefix such as 127.0.1 (members get .1, .2, ...)")
    store = LocalStore(directory.resolve(), size, subnet=subnet)
    if any(store.alive(m) for m in store.members):
        fail(f"a local store is already running in {directory} (stop it with: skiff store local down)")
    store.start()
    try:
        with Status(f"starting {size} store members, waiting for a leader...", console=err_console):
            leader = store.wait_ready(timeout=30)
    except TimeoutError as err:
        store.stop()
        fail(f"{err}; member logs are in {directory}/m*/member.log")
    emit({"members": store.endpoints, "leader": leader.name, "dir": str(directory.resolve())}, output)


@local_app.command("down")
def local_down(directory: Path = LOCAL_DIR) -> None:
    """Stop every member `local up` started in --dir (by pidfile); data stays in --dir.

    Example: skiff store local down --dir run/store
    """
    from control_plane.devtools import procs

    pidfiles = sorted(directory.glob("*/member.pid"))
    if not pidfiles:
        err_console.print(f"no running local store in {directory}")
        return
    for pidfile in pidfiles:
        procs.stop(pidfile)
    err_console.print(f"stopped {len(pidfiles)} members of the local store in {directory}")
