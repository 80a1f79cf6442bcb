"""`skiff store ...`: the cluster store's commands, as etcd has them: `run` (a member, the
daemon), the etcdctl verbs (`verbs`: put, get, del, watch, status, members, compact,
member add/remove) and `local` (a store of member processes on loopback, for trying it
out).  The only CLI modules that import `raftstore` (the documented exception).
"""

from __future__ import annotations

import typer

from control_plane.cli.store import local, run, verbs

app = typer.Typer(help="The cluster store (Skiff's etcd): run a member, read and write keys.",
                  no_args_is_help=True)
app.command("run")(run.run)
for name, command in verbs.COMMANDS:
    app.command(name)(command)
app.add_typer(verbs.member_app, name="member")
app.add_typer(local.local_app, name="local")
