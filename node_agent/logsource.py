"""Where the log server finds a pod's log files: the pod worker knows which runtime
container a (namespace, pod, container) is — for a static pod, by its mirror pod's
name — and the runtime knows the files."""

from __future__ import annotations

from pathlib import Path

from node_agent.desired import DesiredPod
from node_agent.podworker import PodWorker
from node_agent.runtime.base import Runtime
from node_agent.runtime.logs import rotated_files
from node_agent.staticpods import mirror_name


class RuntimeLogSource:
    def __init__(self, worker: PodWorker, runtime: Runtime, node_name: str) -> None:
        self.worker, self.runtime, self.node_name = worker, runtime, node_name

    def _find(self, namespace: str, pod: str) -> DesiredPod | None:
        for d in self.worker.desired():
            shown = mirror_name(d.obj, self.node_name) if d.static else d.name
            if d.namespace == namespace and shown == pod:
                return d
        return None

    def log_files(self, namespace: str, pod: str, container: str, previous: bool) -> list[Path] | None:
        """Oldest first: rotated files, then the current one (or the previous run's)."""
        d = self._find(namespace, pod)
        if d is None or self.runtime.status(d.uid, container) is None:
            return None
        current = self.runtime.log_path(d.uid, container, previous)
        if previous:
            return [current]
        return [*reversed(rotated_files(current)), current]

    def is_running(self, namespace: str, pod: str, container: str) -> bool:
        d = self._find(namespace, pod)
        state = self.runtime.status(d.uid, container) if d is not None else None
        return state is not None and state.state == "running"
