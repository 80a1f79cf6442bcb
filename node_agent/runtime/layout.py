"""The on-disk state of one container, shared by the runtime and the shim.

    <root>/<pod_uid>/<name>/
        spec.json       the ContainerSpec of the current run            (runtime)
        run.json        what the shim must do: argv, env, cgroup, logs  (runtime)
        pid.json        shim and container identities, started_at      (shim, once started)
        exit.json       exit code, signal, reason, finished_at         (shim, once exited)
        container.log   stdout+stderr of the current run; .1, .2 ... rotated
        previous.log    the current log of the run before the last restart
        shim.log        the shim's own diagnostics

Every JSON file is written whole to a temporary name and renamed into place, so a reader
sees either no file or a complete one; that is what lets `status()` read without locks.
A run's `pid.json`/`exit.json` are removed (by the runtime, under its per-container lock)
before the next run's shim is launched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from control_plane.client.atomicfile import write_atomic
from node_agent.runtime.identity import ProcRef

LOG = "container.log"


def check_component(value: str, what: str) -> str:
    """`value` if it is usable as one path component; raises `ValueError` otherwise
    (an empty name, `.`, `..` or a `/` would escape the runtime's root)."""
    if not value or value in (".", "..") or "/" in value or "\0" in value:
        raise ValueError(f"invalid {what} {value!r} for a container state directory")
    return value


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically replace `path` with `data` (temporary file, fsync, rename)."""
    write_atomic(path, json.dumps(data, sort_keys=True))


def read_json(path: Path) -> dict[str, Any] | None:
    """The object in `path`, or None if it does not exist (or is not a JSON object)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class RunRecord:
    """pid.json: who runs the current run.  The container's PID is also its process
    group id (the shim starts it as a group leader)."""

    shim: ProcRef
    container: ProcRef
    started_at: float

    def to_json(self) -> dict[str, Any]:
        return {"shim": self.shim.to_json(), "container": self.container.to_json(),
                "started_at": self.started_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        return cls(ProcRef.from_json(data["shim"]), ProcRef.from_json(data["container"]),
                   float(data["started_at"]))


@dataclass(frozen=True)
class ExitRecord:
    """exit.json: how the current run ended.  `exit_code` follows the shell convention
    (128 + signal number when the process was killed by a signal)."""

    exit_code: int
    signal: int | None
    reason: str  # Completed, Error, OOMKilled
    finished_at: float

    def to_json(self) -> dict[str, Any]:
        return {"exit_code": self.exit_code, "signal": self.signal, "reason": self.reason,
                "finished_at": self.finished_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExitRecord:
        sig = data.get("signal")
        return cls(int(data["exit_code"]), None if sig is None else int(sig), str(data["reason"]),
                   float(data["finished_at"]))


@dataclass(frozen=True)
class ContainerDir:
    """Paths of one container's state directory.  Pure: creating it touches no files."""

    path: Path

    @property
    def spec(self) -> Path:
        return self.path / "spec.json"

    @property
    def run(self) -> Path:
        return self.path / "run.json"

    @property
    def pid(self) -> Path:
        return self.path / "pid.json"

    @property
    def exit(self) -> Path:
        return self.path / "exit.json"

    @property
    def log(self) -> Path:
        return self.path / LOG

    @property
    def previous_log(self) -> Path:
        return self.path / "previous.log"

    @property
    def shim_log(self) -> Path:
        return self.path / "shim.log"

    def run_record(self) -> RunRecord | None:
        data = read_json(self.pid)
        return None if data is None else RunRecord.from_json(data)

    def exit_record(self) -> ExitRecord | None:
        data = read_json(self.exit)
        return None if data is None else ExitRecord.from_json(data)
