"""Faults one host can do to itself: the actions behind every chaos target.

`skiff up`'s hosts run them from the controller (each host is a directory here);
real and lab hosts run them over SSH as `skiff chaos host ACTION` (see `sshtarget.py`),
so there is one implementation of each fault.

Every process is found from a pidfile or the runtime's state (PID plus start time),
never by name: in a lab every host shares one process table.

- `kill`: SIGKILL the agent (and its supervisor first, so nothing restarts it) and
  every container: a crash.  `stop`: the same, gracefully (SIGTERM, grace, SIGKILL),
  as a reboot would.  `start`: start the agent again (it starts its static pods).
- `kill_agent`: SIGKILL only the agent; a supervisor restarts it after its back-off,
  an unsupervised one waits for `start`.
- `pause` / `resume`: SIGSTOP / SIGCONT the store member's process group.
- `isolate(peers)` / `reconnect`: nft rules in this host's network namespace that drop
  all traffic to and from `peers` (the lab's own rules, `lab.netns.block`).
"""

from __future__ import annotations

import contextlib
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil

from control_plane.devtools import procs
from control_plane.devtools.lab import netns
from node_agent import supervisor
from node_agent.runtime.process import ProcessRuntime
from node_agent.teardown import stop_containers

STORE_CONTAINER = "store"


class HostFaultError(Exception):
    """The fault cannot be injected on this host now (the message says why)."""


@dataclass(frozen=True)
class HostLayout:
    """Where a host keeps what the faults act on.  `supervised`: `agent_pidfile` is a
    `skiff supervise` supervisor's (Ansible-provisioned hosts without systemd), not
    the agent's own (`skiff up`)."""

    agent_pidfile: Path
    agent_log: Path
    agent_config: Path
    containers: Path
    skiff: tuple[str, ...]
    supervised: bool

    @classmethod
    def provisioned(cls, skiff: tuple[str, ...]) -> HostLayout:
        """A host set up by the Ansible roles (or `skiff node join`)."""
        return cls(Path("/run/skiff/agent.pid"), Path("/var/log/skiff/agent.log"),
                   Path("/etc/skiff/agent.yaml"), Path("/var/lib/skiff/containers"), skiff, True)


class HostOps:
    def __init__(self, layout: HostLayout) -> None:
        self.layout = layout

    def _runtime(self) -> ProcessRuntime:
        return ProcessRuntime(self.layout.containers, cgroups=False)

    def _agent(self) -> psutil.Process | None:
        if not self.layout.supervised:
            return procs.read(self.layout.agent_pidfile)
        sup = supervisor.running(self.layout.agent_pidfile)
        children = sup.children() if sup is not None else []
        return children[0] if children else None

    def kill(self) -> None:
        agent = self._agent()
        if self.layout.supervised:
            sup = supervisor.running(self.layout.agent_pidfile)
            if sup is not None:
                _sigkill(sup)
        if agent is not None:
            _sigkill(agent)
        runtime = self._runtime()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda c: runtime.stop(c[0], c[1], grace=0), runtime.containers()))

    def stop(self) -> None:
        if self.layout.supervised:
            supervisor.stop(self.layout.agent_pidfile)
        else:
            procs.stop(self.layout.agent_pidfile)
        stop_containers({"host": self.layout.containers}, grace=10)

    def start(self) -> None:
        argv = [*self.layout.skiff, "agent", "--config", str(self.layout.agent_config)]
        if self.layout.supervised:
            supervisor.start(argv, self.layout.agent_pidfile, self.layout.agent_log)
        elif procs.read(self.layout.agent_pidfile) is None:
            procs.start(argv, self.layout.agent_pidfile, self.layout.agent_log)

    def kill_agent(self) -> None:
        agent = self._agent()
        if agent is None:
            raise HostFaultError("no agent runs on this host")
        _sigkill(agent)

    def _signal_store(self, sig: int) -> None:
        runtime = self._runtime()
        for uid, name in runtime.containers():
            if name == STORE_CONTAINER and runtime.signal(uid, name, sig):
                return
        raise HostFaultError("this host runs no store member now")

    def pause(self) -> None:
        self._signal_store(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_store(signal.SIGCONT)

    def isolate(self, peers: list[str]) -> None:
        try:
            netns.block(None, peers)
        except (netns.LabError, OSError) as err:
            raise HostFaultError(f"cannot install the nft rules: {err}") from None

    def reconnect(self) -> None:
        netns.heal(None)

    def running_pods(self) -> list[str]:
        """UIDs of the pods with a running container here."""
        runtime = self._runtime()
        found: list[str] = []
        for uid, name in runtime.containers():
            state = runtime.status(uid, name)
            if state is not None and state.state == "running" and uid not in found:
                found.append(uid)
        return found


def _sigkill(proc: psutil.Process) -> None:
    with contextlib.suppress(psutil.Error):
        proc.kill()
        proc.wait(10)
