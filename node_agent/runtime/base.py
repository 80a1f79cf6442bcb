"""The runtime interface the agent's pod sync loop uses (a `typing.Protocol`), and the
data it passes.  The default implementation is the process runtime (`process.py`);
tests of pure agent logic use an in-memory fake.

Contract for every implementation:
- A container is identified by (pod uid, container name).  Its state lives on disk
  under the runtime's root, so a restarted agent finds (re-adopts) what is running;
  the agent's own restart never stops or restarts containers.
- `start` returns once the process exists (or raises `StartError` with a Kubernetes
  reason, e.g. the command is not found); it does not wait for it to finish.
- `start` of a running container returns its state and starts nothing; `start` of an
  exited one begins a new run (a new process), and the old run's log stays readable
  through `log_path(..., previous=True)`.
- `status` never blocks; `stop` blocks at most `grace + KILL_WAIT` seconds.
- Every method is thread-safe.  Calls on one container are serialised; calls on
  different containers do not wait for each other.
- Limits (`memory_limit`, `cpu_limit_m`) are enforced only where `capabilities()` says
  so; elsewhere the container runs without them (never a silent claim of enforcement).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

KILL_WAIT = 5.0


class StartError(Exception):
    """The container could not be started; `reason` is what Kubernetes would show
    (`RunContainerError`, `CreateContainerConfigError`, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ContainerSpec:
    pod_uid: str
    pod_namespace: str
    pod_name: str
    name: str
    argv: list[str]  # command + args, already resolved
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    memory_limit: int | None = None  # bytes
    cpu_limit_m: int | None = None  # millicores


@dataclass(frozen=True)
class ContainerState:
    """What the runtime knows about one container (Kubernetes' container state).

    `exit_code` follows the shell: 128 + N when the process was killed by signal N
    (143 after SIGTERM, 137 after SIGKILL).  `reason` when exited: `Completed` (exit 0),
    `Error`, `OOMKilled` (the kernel's OOM killer ended it at its memory limit),
    `ContainerCannotRun` (exit code 128: the command could not be executed) or
    `ContainerStatusUnknown` (exit code 137: the run ended unobserved, e.g. its
    supervisor was killed or the host rebooted).  `pid` is set only while running.
    """

    state: Literal["running", "exited"]
    pid: int | None = None
    started_at: float | None = None  # epoch seconds
    finished_at: float | None = None
    exit_code: int | None = None
    reason: str | None = None  # exited: Completed, Error, OOMKilled


@dataclass(frozen=True)
class Capabilities:
    """What this runtime can enforce on this host; shown in the Node's status."""

    cgroups: Literal["v2", "v1"] | None
    memory_limits: bool
    cpu_limits: bool
    message: str  # e.g. "cgroup v1 (memory, cpu)" or why limits are not enforced


class Runtime(Protocol):
    def capabilities(self) -> Capabilities:
        """What this runtime enforces on this host; constant for the runtime's lifetime."""

    def start(self, spec: ContainerSpec) -> ContainerState:
        """Start a run of the container (see the module docstring); the returned state is
        `running`.  Raises `StartError` (e.g. `RunContainerError`) if it cannot run."""

    def status(self, pod_uid: str, name: str) -> ContainerState | None:
        """None if the runtime has no such container."""

    def stop(self, pod_uid: str, name: str, grace: float) -> None:
        """SIGTERM to the container's process group, up to `grace` s, then SIGKILL;
        returns when it is gone.  A stopped container keeps its state and logs."""

    def remove(self, pod_uid: str, name: str) -> None:
        """Forget a stopped container (state and logs).  Idempotent."""

    def containers(self) -> list[tuple[str, str]]:
        """Every (pod uid, name) the runtime has, running or exited."""

    def log_path(self, pod_uid: str, name: str, previous: bool = False) -> Path:
        """The container's current log file (or the previous run's, after a restart)."""
