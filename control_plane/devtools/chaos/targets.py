"""Where faults land: the hosts of a cluster, as the scenarios see them.

`Target` is the contract; every action is `hostops.HostOps` on the chosen host:
- `LocalTarget`: a cluster from `skiff up` (every host a directory on this machine),
  acted on directly.  It cannot partition: all its hosts share one network namespace
  and one source address.
- `SshTarget` (`sshtarget.py`): hosts from an Ansible inventory (a lab's, or real
  machines'), acted on over SSH with `skiff chaos host ACTION`.
- `StoreTarget`: bare store members on this machine (Skiff's or etcd), for the
  benchmark: no API, no agents.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Protocol

from control_plane.api import defaults
from control_plane.devtools import procs
from control_plane.devtools.chaos.hostops import HostLayout, HostOps
from control_plane.devtools.localcluster import SKIFF, LocalCluster
from control_plane.devtools.storecluster import LocalCluster as StoreCluster


class NotSupported(Exception):
    """This target cannot inject that fault (the message says why)."""


class Target(Protocol):
    can_partition: bool

    def masters(self) -> list[str]: ...
    def workers(self) -> list[str]: ...
    def store_endpoints(self) -> dict[str, str]: ...
    def admin_config(self) -> Path | None: ...
    def kill(self, host: str) -> None: ...
    def stop(self, host: str) -> None: ...
    def start(self, host: str) -> None: ...
    def pause(self, host: str) -> None: ...
    def resume(self, host: str) -> None: ...
    def kill_agent(self, host: str) -> None: ...
    def isolate(self, host: str, peers: list[str]) -> None: ...
    def reconnect(self, host: str) -> None: ...
    def running_pods(self) -> dict[str, list[str]]: ...


class LocalTarget:
    """A cluster made by `skiff up --dir ROOT`."""

    can_partition = False

    def __init__(self, root: Path) -> None:
        self.cluster = LocalCluster(root)
        if not (self.cluster.root / "hosts.yaml").exists():
            raise FileNotFoundError(f"{root} holds no cluster from `skiff up` (no hosts.yaml)")
        self.cluster.discover()
        self.hosts = {h.name: h for h in self.cluster.hosts}
        self.ops = {h.name: HostOps(HostLayout(
            agent_pidfile=self.cluster.agent_pidfile(h), agent_log=self.cluster.agent_log(h),
            agent_config=self.cluster.home(h) / "etc/skiff/agent.yaml",
            containers=self.cluster.home(h) / "var/lib/skiff/containers",
            skiff=tuple(SKIFF), supervised=False)) for h in self.cluster.hosts}

    def masters(self) -> list[str]:
        return [h.name for h in self.cluster.masters]

    def workers(self) -> list[str]:
        return [h.name for h in self.cluster.hosts if h.role != "control-plane"]

    def store_endpoints(self) -> dict[str, str]:
        return {h.name: f"{h.address}:{defaults.STORE_CLIENT_PORT}" for h in self.cluster.masters}

    def admin_config(self) -> Path:
        return self.cluster.config_file

    def kill(self, host: str) -> None:
        self.ops[host].kill()

    def stop(self, host: str) -> None:
        self.ops[host].stop()

    def start(self, host: str) -> None:
        self.ops[host].start()

    def pause(self, host: str) -> None:
        self.ops[host].pause()

    def resume(self, host: str) -> None:
        self.ops[host].resume()

    def kill_agent(self, host: str) -> None:
        self.ops[host].kill_agent()

    def isolate(self, host: str, peers: list[str]) -> None:
        raise NotSupported("a local cluster's hosts share one network namespace and source address, so "
                           "one cannot be cut off from the others: run partition scenarios on a lab "
                           "(`skiff chaos run --lab NAME ...`)")

    def reconnect(self, host: str) -> None:
        return None

    def running_pods(self) -> dict[str, list[str]]:
        """Pod UID -> the hosts where one of its containers runs now."""
        found: dict[str, list[str]] = {}
        for host, ops in self.ops.items():
            for uid in ops.running_pods():
                found.setdefault(uid, []).append(host)
        return found


class StoreTarget:
    """Bare store members on this machine (`control_plane.devtools.storecluster`: Skiff's or
    Debian's etcd), for the benchmark and its etcd anchor: no API, no agents; a host
    is a member, killed and restarted by its pidfile."""

    can_partition = False

    def __init__(self, cluster: StoreCluster) -> None:
        self.cluster = cluster
        self.members = {m.name: m for m in cluster.members}

    def masters(self) -> list[str]:
        return list(self.members)

    def workers(self) -> list[str]:
        return []

    def store_endpoints(self) -> dict[str, str]:
        return {m.name: m.client for m in self.members.values()}

    def admin_config(self) -> Path | None:
        return None

    def kill(self, host: str) -> None:
        self.cluster.kill(self.members[host])

    def stop(self, host: str) -> None:
        procs.stop(self.cluster.pidfile(self.members[host]))

    def start(self, host: str) -> None:
        if not self.cluster.alive(self.members[host]):
            self.cluster.start(self.members[host])

    def pause(self, host: str) -> None:
        procs.signal_pidfile(self.cluster.pidfile(self.members[host]), signal.SIGSTOP)

    def resume(self, host: str) -> None:
        procs.signal_pidfile(self.cluster.pidfile(self.members[host]), signal.SIGCONT)

    def kill_agent(self, host: str) -> None:
        raise NotSupported("bare store members have no agent")

    def isolate(self, host: str, peers: list[str]) -> None:
        raise NotSupported("bare store members on loopback cannot be partitioned")

    def reconnect(self, host: str) -> None:
        return None

    def running_pods(self) -> dict[str, list[str]]:
        return {}
