"""The `skiff` command line (typer).  Each sub-command lives in its own module."""

from __future__ import annotations

import typer

from control_plane.cli import (
    agent_cmd,
    apiserver_cmd,
    apply_cmd,
    chaos_cmd,
    cluster_cmd,
    controller_manager_cmd,
    cordon_cmd,
    delete_cmd,
    describe_cmd,
    drain_cmd,
    get_cmd,
    lab_cmd,
    logs_cmd,
    node_cmd,
    scale_cmd,
    scheduler_cmd,
    store,
    supervise_cmd,
    token_cmd,
    top_cmd,
    up_cmd,
    wait_cmd,
)

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


app.add_typer(store.app, name="store")
app.command("apiserver")(apiserver_cmd.apiserver)
app.command("scheduler")(scheduler_cmd.scheduler)

# kubectl-like commands (talk only to the API server)
app.command("get")(get_cmd.get)
app.command("describe")(describe_cmd.describe)
app.command("apply")(apply_cmd.apply)
app.command("delete")(delete_cmd.delete)
app.command("scale")(scale_cmd.scale)
app.command("cordon")(cordon_cmd.cordon)
app.command("uncordon")(cordon_cmd.uncordon)
app.command("drain")(drain_cmd.drain)
app.command("logs")(logs_cmd.logs)
app.command("wait")(wait_cmd.wait)
app.add_typer(node_cmd.app, name="node")
app.command("ssh")(node_cmd.ssh)
app.add_typer(top_cmd.app, name="top")
app.add_typer(cluster_cmd.app, name="cluster")
app.add_typer(token_cmd.app, name="token")
app.add_typer(lab_cmd.app, name="lab")
app.command("controller-manager")(controller_manager_cmd.controller_manager)
app.command("agent")(agent_cmd.agent)
app.command("reset")(agent_cmd.reset)
app.add_typer(supervise_cmd.app, name="supervise")
app.add_typer(chaos_cmd.app, name="chaos")
app.command("up")(up_cmd.up)
app.command("down")(up_cmd.down)

if __name__ == "__main__":
    app()
