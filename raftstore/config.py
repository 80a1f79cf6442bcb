"""Member configuration: addresses, the initial cluster, Raft timing, limits."""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from raftstore.errors import InvalidArgument

MAX_REQUEST_BYTES = 1536 * 1024  # etcd's default --max-request-bytes (1.5 MiB)


def parse_addr(text: str, what: str) -> tuple[str, int]:
    """'host:port' -> (host, port); a clear error names the option."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidArgument(f"{what}: expected HOST:PORT, got {text!r}")
    return host, int(port)


def parse_initial_cluster(text: str) -> dict[str, str]:
    """'m1=127.0.1.1:2380,m2=...' -> {'m1': '127.0.1.1:2380', ...} (URL schemes allowed)."""
    members: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, addr = part.partition("=")
        if not sep or not name:
            raise InvalidArgument(f"--initial-cluster: expected NAME=HOST:PORT, got {part!r}")
        addr = addr.removeprefix("http://").removeprefix("https://")
        parse_addr(addr, f"--initial-cluster member {name}")
        if name in members:
            raise InvalidArgument(f"--initial-cluster: member {name!r} listed twice")
        members[name] = addr
    if not members:
        raise InvalidArgument("--initial-cluster is empty")
    return members


def member_id(name: str) -> int:
    """A stable uint64 member ID derived from the member's name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")


CLUSTER_ID = member_id("skiff-cluster")


def read_secret(path: Path) -> str:
    """The cluster secret from a file that only its owner may read."""
    mode = path.stat().st_mode & 0o077
    if mode:
        raise InvalidArgument(f"secret file {path} is readable by group or others "
                              f"(mode {oct(path.stat().st_mode & 0o777)}); chmod 600 it")
    secret = path.read_text().strip()
    if len(secret) < 16:
        raise InvalidArgument(f"secret file {path} holds fewer than 16 characters")
    return secret


def write_secret(path: Path) -> None:
    """Create a random cluster secret, mode 0600 from the first byte."""
    import secrets

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")


@dataclass
class MemberConfig:
    name: str
    data_dir: Path
    client_addr: str
    peer_addr: str
    initial_cluster: dict[str, str]
    secret: str | None = None
    # Raft timing: an election starts after a random timeout in [min, max] without a
    # heartbeat.  0.2/0.6 s fails over in ~0.3 s on loopback (pysyncobj default 0.4/1.4).
    election_min: float = 0.2
    election_max: float = 0.6
    heartbeat: float = 0.05
    snapshot_entries: int = 5000
    request_timeout: float = 5.0
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parse_addr(self.client_addr, "--client-addr")
        parse_addr(self.peer_addr, "--peer-addr")
        if self.name not in self.initial_cluster:
            raise InvalidArgument(f"--initial-cluster does not list this member ({self.name})")
        if self.initial_cluster[self.name] != self.peer_addr:
            raise InvalidArgument(
                f"--initial-cluster gives {self.name} the address {self.initial_cluster[self.name]}, "
                f"but --peer-addr is {self.peer_addr}")

    @property
    def other_peers(self) -> list[str]:
        return [addr for name, addr in self.initial_cluster.items() if name != self.name]

    @property
    def journal_file(self) -> str:
        return str(self.data_dir / "raft.journal")

    @property
    def dump_file(self) -> str:
        return str(self.data_dir / "raft.snapshot")

    @functools.cached_property
    def id(self) -> int:
        return member_id(self.name)
