"""The `skiff` command line (typer).  Each sub-command lives in its own module."""

from __future__ import annotations

import typer

from control_plane.cli import apiserver_cmd, controller_manager_cmd, scheduler_cmd, store_cmd

app = typer.Typer(help="Skiff: a small Kubernetes-style cluster manager.", no_args_is_help=True,
                  pretty_exceptions_enable=False)


@app.callback()
def root(ctx: typer.Context,
         config: str = typer.Option("", "--config", envvar="SKIFF_CONFIG",
                                    help="Client config (default ~/.skiff/config).")) -> None:
    """Skiff: a small Kubernetes-style cluster manager.

    Example:
      skiff --config run/cluster/config get nodes
    """
    ctx.obj = {"config": config or None}


app.add_typer(store_cmd.app, name="store")
app.command("apiserver")(apiserver_cmd.apiserver)
app.command("scheduler")(scheduler_cmd.scheduler)
app.command("controller-manager")(controller_manager_cmd.controller_manager)

if __name__ == "__main__":
    app()
