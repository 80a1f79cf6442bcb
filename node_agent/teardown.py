"""Stop every container a host's agent started, from the runtime's own state (pidfile and
start time per container), without the agent or the API: what `skiff down` and
`skiff reset` (like `kubeadm reset`) need.

Contract: containers are stopped in parallel, each with `grace` seconds before SIGKILL,
and their state is removed; returns how many were running.  Idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from node_agent.runtime.process import ProcessRuntime

Progress = Callable[[str], None]


def stop_containers(runtime_dirs: dict[str, Path], grace: float = 10.0,
                    progress: Progress = lambda _: None) -> int:
    """Stop the containers of every `host -> runtime directory` given."""
    work: list[tuple[str, ProcessRuntime, str, str]] = []
    for host, directory in runtime_dirs.items():
        if not directory.is_dir():
            continue
        runtime = ProcessRuntime(directory)
        work += [(host, runtime, uid, name) for uid, name in runtime.containers()]

    def stop_one(item: tuple[str, ProcessRuntime, str, str]) -> int:
        host, runtime, uid, name = item
        state = runtime.status(uid, name)
        running = state is not None and state.state == "running"
        if running:
            progress(f"stopping {name} on {host}")
            runtime.stop(uid, name, grace=grace)
        runtime.remove(uid, name)
        return int(running)

    with ThreadPoolExecutor(max(1, min(16, len(work)))) as pool:
        return sum(pool.map(stop_one, work))
