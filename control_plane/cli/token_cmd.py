"""`skiff token create`: bootstrap tokens for joining nodes (like `kubeadm token create`)."""

from __future__ import annotations

import typer

from control_plane.cli.output import OUTPUT_OPTION, Output, emit
from control_plane.cli.session import open_session

app = typer.Typer(help="Bootstrap tokens for joining nodes.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    ttl: int = typer.Option(3600, "--ttl", help="Seconds the token stays valid (60 to 604800)."),
    output: Output = OUTPUT_OPTION,
) -> None:
    """Create a bootstrap token; a new node presents it once to get its own credential.

    Example:
      skiff token create --ttl 900
      skiff token create -o json
    """
    session = open_session(ctx)
    with session.errors():
        made = session.api.create("/apis/skiff.io/v1/bootstraptokens", {"ttlSeconds": ttl})
    if output == Output.table:
        print(made["token"])
        return
    emit(made, output)
