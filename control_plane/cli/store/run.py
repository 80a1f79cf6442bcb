"""`skiff store run`: one store member in the foreground (the daemon)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from control_plane.cli.output import fail
from raftstore.config import MemberConfig, parse_initial_cluster, read_secret
from raftstore.errors import StoreError


def run(
    name: str = typer.Option(..., "--name", help="This member's name, as in --initial-cluster."),
    data_dir: Path = typer.Option(..., "--data-dir", help="Journal and snapshot directory."),
    client_addr: str = typer.Option("127.0.0.1:2379", "--client-addr", help="HOST:PORT for clients."),
    peer_addr: str = typer.Option("127.0.0.1:2380", "--peer-addr", help="HOST:PORT for Raft peers."),
    initial_cluster: str = typer.Option(..., "--initial-cluster",
                                        help="NAME=HOST:PORT,... (peer addresses)."),
    secret_file: Path | None = typer.Option(None, "--secret-file",
                                            help="Cluster secret: encrypts and authenticates peer traffic."),
    election_min: float = typer.Option(0.2, "--election-min", help="Election timeout lower bound, s."),
    election_max: float = typer.Option(0.6, "--election-max", help="Election timeout upper bound, s."),
    snapshot_entries: int = typer.Option(5000, "--snapshot-entries",
                                         help="Raft log entries between snapshots."),
) -> None:
    """Run one store member in the foreground.

    Example:
      skiff store run --name m1 --data-dir /var/lib/skiff/store --client-addr 127.0.1.1:2379 \\
        --peer-addr 127.0.1.1:2380 --initial-cluster m1=127.0.1.1:2380,m2=127.0.1.2:2380,m3=127.0.1.3:2380
    """
    from raftstore.durability import read_meta
    from raftstore.server import run as run_member

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pysyncobj").setLevel(logging.WARNING)
    if secret_file is None:
        logging.getLogger("skiff.store").warning(
            "no --secret-file: peer traffic is neither encrypted nor authenticated, and anyone who "
            "reaches %s can run code in this process (pysyncobj unpickles peer messages)", peer_addr)
    try:
        secret = read_secret(secret_file) if secret_file else None
        cfg = MemberConfig(name=name, data_dir=data_dir, client_addr=client_addr, peer_addr=peer_addr,
                           initial_cluster=parse_initial_cluster(initial_cluster), secret=secret,
                           election_min=election_min, election_max=election_max,
                           snapshot_entries=snapshot_entries)
        read_meta(cfg.journal_file + ".meta")  # a corrupt term/vote refuses to start, with how to recover
    except (StoreError, OSError) as err:
        fail(getattr(err, "message", str(err)))
    run_member(cfg)


