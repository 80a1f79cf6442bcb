"""Clusters of real member processes on loopback, for the demo, the tests and the
benchmark: Skiff's store (`LocalStore`) and Debian's etcd as the anchor (`LocalEtcd`).

Each member gets its own address (`subnet`.N), so every member keeps the default ports
2379/2380.  Processes are tracked by pidfiles under the cluster directory and are stopped
by PID only.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from control_plane.api import defaults
from control_plane.devtools import procs
from raftstore.client import StoreClient
from raftstore.config import write_secret


@dataclass
class MemberSpec:
    name: str
    host: str
    client_port: int = defaults.STORE_CLIENT_PORT
    peer_port: int = defaults.STORE_PEER_PORT

    @property
    def client(self) -> str:
        return f"{self.host}:{self.client_port}"

    @property
    def peer(self) -> str:
        return f"{self.host}:{self.peer_port}"


class LocalCluster:
    """Member processes under `base`; member i listens on `subnet`.(first_host + i)."""

    prefix = "m"
    process = "member"

    def __init__(self, base: Path, size: int = 3, first_host: int = 1, subnet: str = "127.0.1") -> None:
        self.base = base
        self.members = [MemberSpec(f"{self.prefix}{first_host + i}", f"{subnet}.{first_host + i}")
                        for i in range(size)]

    @property
    def endpoints(self) -> list[str]:
        return [m.client for m in self.members]

    def pidfile(self, m: MemberSpec) -> Path:
        return self.base / m.name / f"{self.process}.pid"

    def logfile(self, m: MemberSpec) -> Path:
        return self.base / m.name / f"{self.process}.log"

    def argv(self, m: MemberSpec) -> list[str]:
        raise NotImplementedError

    def start(self, m: MemberSpec | None = None) -> None:
        """Start one member, or every member that is not running."""
        self.base.mkdir(parents=True, exist_ok=True)
        for spec in [m] if m else self.members:
            if procs.read(self.pidfile(spec)) is None:
                procs.start(self.argv(spec), self.pidfile(spec), self.logfile(spec))

    def kill(self, m: MemberSpec) -> None:
        """SIGKILL one member (a crash) and wait until it is gone."""
        procs.kill(self.pidfile(m))

    def stop(self) -> None:
        procs.stop_all([self.pidfile(m) for m in self.members])

    def alive(self, m: MemberSpec) -> bool:
        return procs.read(self.pidfile(m)) is not None

    def client(self, timeout: float = 10.0) -> StoreClient:
        return StoreClient(self.endpoints, timeout=timeout)

    def leader(self, client: StoreClient) -> MemberSpec | None:
        """The member every live member names as leader, or None while they disagree."""
        by_id: dict[int, MemberSpec] = {}
        leaders = set()
        for m in self.members:
            if not self.alive(m):
                continue
            try:
                st = client.status(m.client)
            except Exception:
                return None
            by_id[st["member_id"]] = m
            leaders.add(st["leader"])
        if len(leaders) == 1 and (lid := leaders.pop()) in by_id:
            return by_id[lid]
        return None

    def wait_ready(self, timeout: float = 30.0) -> MemberSpec:
        """Wait until live members agree on a leader that accepts a write; return it."""
        with self.client(timeout=2.0) as c:
            found: list[MemberSpec] = []

            def ready() -> bool:
                leader = self.leader(c)
                if leader is None:
                    return False
                c.get(b"\0skiff/ready")  # a linearizable read needs a working quorum
                found.append(leader)
                return True

            procs.wait_for(ready, timeout, interval=0.1, what=f"a leader of {self.base}")
            return found[-1]


class LocalStore(LocalCluster):
    """Skiff store members (`skiff store run`), with a generated cluster secret."""

    def __init__(self, base: Path, size: int = 3, first_host: int = 1, subnet: str = "127.0.1",
                 extra_args: list[str] | None = None) -> None:
        super().__init__(base, size, first_host, subnet)
        self.extra_args = extra_args or []
        self.secret_file = base / "secret"
        self.initial_cluster = ",".join(f"{m.name}={m.peer}" for m in self.members)

    def argv(self, m: MemberSpec) -> list[str]:
        return [sys.executable, "-m", "control_plane.cli.main", "store", "run", "--name", m.name,
                "--data-dir", str(self.base / m.name / "data"), "--client-addr", m.client,
                "--peer-addr", m.peer, "--initial-cluster", self.initial_cluster,
                "--secret-file", str(self.secret_file), *self.extra_args]

    def start(self, m: MemberSpec | None = None) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        if not self.secret_file.exists():
            write_secret(self.secret_file)
        super().start(m)


class LocalEtcd(LocalCluster):
    """Debian's etcd-server members: the benchmark anchor and the client's second target."""

    prefix = "e"
    process = "etcd"

    def __init__(self, base: Path, size: int = 3, first_host: int = 1, subnet: str = "127.0.3",
                 binary: str = "etcd") -> None:
        super().__init__(base, size, first_host, subnet)
        self.binary = binary

    def argv(self, m: MemberSpec) -> list[str]:
        cluster = ",".join(f"{x.name}=http://{x.peer}" for x in self.members)
        return [self.binary, "--name", m.name, "--data-dir", str(self.base / m.name / "data"),
                "--listen-client-urls", f"http://{m.client}", "--advertise-client-urls", f"http://{m.client}",
                "--listen-peer-urls", f"http://{m.peer}", "--initial-advertise-peer-urls", f"http://{m.peer}",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", f"anchor-{self.base.name}", "--log-level", "warn",
                "--logger", "zap"]
