"""`skiff supervise start|stop|status`: keep a command running without systemd (lab hosts).

See `node_agent/supervisor.py` for the contract; `run` is the detached loop itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

import typer

from control_plane.cli.output import OUTPUT_OPTION, Output, emit, fail

app = typer.Typer(help="Keep a command running on a host without systemd (a pidfile supervisor).",
                  no_args_is_help=True)
PIDFILE = typer.Option(..., "--pidfile", help="The supervisor's pidfile (e.g. /run/skiff/agent.pid).")
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


@app.command("start", context_settings=PASS_THROUGH)
def start(
    ctx: typer.Context,
    pidfile: Path = PIDFILE,
    log: Path = typer.Option(..., "--log", help="Log file for the command's output and the supervisor's."),
    grace: float = typer.Option(30.0, "--grace", help="Seconds the command gets to stop on SIGTERM."),
) -> None:
    """Start COMMAND under a detached supervisor unless one already runs for PIDFILE.
    Prints `started` or `already running` (Ansible keys `changed` on it).

    Example:
      skiff supervise start --pidfile /run/skiff/agent.pid --log /var/log/skiff/agent.log \\
        -- /opt/skiff/venv/bin/skiff agent --config /etc/skiff/agent.yaml
    """
    from node_agent import supervisor

    argv = _command(ctx)
    if not argv:
        fail("give the command after `--`, e.g. -- skiff agent --config /etc/skiff/agent.yaml")
    try:
        started, pid = supervisor.start(argv, pidfile, log, grace)
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        fail(str(err))
    print(f"{'started' if started else 'already running'} (pid {pid})")


@app.command("stop")
def stop(pidfile: Path = PIDFILE) -> None:
    """Stop the supervisor and its command (SIGTERM, then SIGKILL after its grace period).

    Example:
      skiff supervise stop --pidfile /run/skiff/agent.pid
    """
    from node_agent import supervisor

    print("stopped" if supervisor.stop(pidfile) else "not running")


@app.command("status")
def status(pidfile: Path = PIDFILE, output: Output = OUTPUT_OPTION) -> None:
    """Whether a supervisor runs for PIDFILE (exit code 0 if it does, 3 if not, like systemctl).

    Example:
      skiff supervise status --pidfile /run/skiff/agent.pid -o json
    """
    from node_agent import supervisor

    proc = supervisor.running(pidfile)
    state = {"running": proc is not None, "pid": proc.pid if proc else None, "pidfile": str(pidfile)}
    if output == Output.table:
        print(f"running (pid {proc.pid})" if proc else "not running")
    else:
        emit(state, output)
    raise typer.Exit(0 if proc else 3)


@app.command("run", hidden=True, context_settings=PASS_THROUGH)
def run(
    ctx: typer.Context,
    pidfile: Path = PIDFILE,
    log: Path = typer.Option(..., "--log"),
    grace: float = typer.Option(30.0, "--grace"),
) -> None:
    """The supervisor loop (started by `skiff supervise start`)."""
    from node_agent.supervisor import Supervisor

    raise typer.Exit(Supervisor(_command(ctx), pidfile, log, grace).run())


def _command(ctx: typer.Context) -> list[str]:
    """The command after `--` (click may or may not leave the `--` itself in the args)."""
    args = list(ctx.args)
    return args[1:] if args[:1] == ["--"] else args
