"""Where faults land: the hosts of a cluster and what can be done to them.

`Target` is the contract the scenarios use; `LocalTarget` is a cluster from `skiff up`
(every host a directory on this machine, its agent a pidfile, its containers the
runtime's state), so every action is a signal to a PID read from a pidfile, never a
search by name.

Actions and their meaning:
- `kill(h)`: SIGKILL the host's agent and every container it runs (a crash);
  `start(h)` brings the host back (its agent starts its static pods again).
- `stop(h)`: stop the agent and its containers gracefully (SIGTERM, then SIGKILL after
  the grace period), as a reboot would; `start(h)` again.
- `pause(h)` / `resume(h)`: SIGSTOP / SIGCONT the host's store member (a frozen
  process: its peers time it out while its sockets stay open).
- `kill_agent(h)`: SIGKILL only the agent (containers keep running); `start(h)`.
- `isolate(h, peers)` / `reconnect(h)`: drop all traffic between `h` and `peers`.
  A local cluster cannot: all its hosts share one network namespace and one source
  address, so `NotSupported` says so (partition scenarios need a lab).
"""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from control_plane.localcluster import SKIFF, LocalCluster
from node_agent.runtime.process import ProcessRuntime
from node_agent.teardown import stop_containers
from raftstore import procs

STORE_CONTAINER = "store"


class NotSupported(Exception):
    """This target cannot inject that fault (the message says why)."""


class Target(Protocol):
    def masters(self) -> list[str]: ...
    def workers(self) -> list[str]: ...
    def store_endpoints(self) -> dict[str, str]: ...
    def admin_config(self) -> Path: ...
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

    def __init__(self, root: Path) -> None:
        self.cluster = LocalCluster(root)
        if not (self.cluster.root / "hosts.yaml").exists():
            raise FileNotFoundError(f"{root} holds no cluster from `skiff up` (no hosts.yaml)")
        self.cluster.discover()
        self.hosts = {h.name: h for h in self.cluster.hosts}

    def masters(self) -> list[str]:
        return [h.name for h in self.cluster.masters]

    def workers(self) -> list[str]:
        return [h.name for h in self.cluster.hosts if h.role != "control-plane"]

    def store_endpoints(self) -> dict[str, str]:
        return {h.name: f"{h.address}:2379" for h in self.cluster.masters}

    def admin_config(self) -> Path:
        return self.cluster.config_file

    def _runtime(self, host: str) -> ProcessRuntime:
        return ProcessRuntime(self._containers_dir(host), cgroups=False)

    def _containers_dir(self, host: str) -> Path:
        return self.cluster.home(self.hosts[host]) / "var/lib/skiff/containers"

    def kill(self, host: str) -> None:
        procs.kill(self.cluster.agent_pidfile(self.hosts[host]))
        runtime = self._runtime(host)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda c: runtime.stop(c[0], c[1], grace=0), runtime.containers()))

    def stop(self, host: str) -> None:
        procs.stop(self.cluster.agent_pidfile(self.hosts[host]))
        stop_containers({host: self._containers_dir(host)}, grace=10)

    def start(self, host: str) -> None:
        h = self.hosts[host]
        if procs.read(self.cluster.agent_pidfile(h)) is None:
            procs.start([*SKIFF, "agent", "--config", str(self.cluster.home(h) / "etc/skiff/agent.yaml")],
                        self.cluster.agent_pidfile(h), self.cluster.agent_log(h))

    def _signal_store(self, host: str, sig: int) -> None:
        runtime = self._runtime(host)
        for uid, name in runtime.containers():
            state = runtime.status(uid, name)
            if name == STORE_CONTAINER and state is not None and state.state == "running":
                runtime.signal(uid, name, sig)
                return
        raise NotSupported(f"{host} runs no store member now")

    def pause(self, host: str) -> None:
        self._signal_store(host, signal.SIGSTOP)

    def resume(self, host: str) -> None:
        self._signal_store(host, signal.SIGCONT)

    def kill_agent(self, host: str) -> None:
        procs.kill(self.cluster.agent_pidfile(self.hosts[host]))

    def isolate(self, host: str, peers: list[str]) -> None:
        raise NotSupported("a local cluster's hosts share one network namespace and source address, so "
                           "one cannot be cut off from the others: run partition scenarios on a lab "
                           "(`skiff lab up`, then `skiff chaos run --lab ...`)")

    def reconnect(self, host: str) -> None:
        return None

    def running_pods(self) -> dict[str, list[str]]:
        """Pod UID -> the hosts where one of its containers runs now."""
        found: dict[str, list[str]] = {}
        for host in self.hosts:
            runtime = self._runtime(host)
            for uid, name in runtime.containers():
                state = runtime.status(uid, name)
                if state is not None and state.state == "running" and host not in found.get(uid, []):
                    found.setdefault(uid, []).append(host)
        return found

