"""Checks made before a container is launched, so the common mistakes (command not
found, not executable, bad working directory) fail `start()` at once with a message a
user can act on, the way containerd's `exec: "x": executable file not found in $PATH`
does.  The shim still reports what slips through (e.g. a file deleted in between).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from node_agent.runtime.base import StartError

RUN_CONTAINER_ERROR = "RunContainerError"
DEFAULT_WORKING_DIR = "/"


def container_env(spec_env: Mapping[str, str], host_env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The container's whole environment: exactly `spec_env`, plus the host's PATH when
    the spec sets none (so `sh`, `python3` ... resolve as on the host)."""
    env = dict(spec_env)
    if "PATH" not in env:
        env["PATH"] = host_env.get("PATH", os.defpath)
    return env


def working_dir(requested: str | None) -> str:
    """The directory the container starts in: the requested one, or `/`.  Raises
    `StartError` if it is not an existing directory."""
    cwd = requested or DEFAULT_WORKING_DIR
    if not os.path.isabs(cwd):
        raise StartError(RUN_CONTAINER_ERROR, f"working directory {cwd!r} is not an absolute path")
    if not os.path.exists(cwd):
        raise StartError(RUN_CONTAINER_ERROR, f"working directory {cwd!r}: no such file or directory")
    if not os.path.isdir(cwd):
        raise StartError(RUN_CONTAINER_ERROR, f"working directory {cwd!r}: not a directory")
    return cwd


def executable(argv: list[str], env: Mapping[str, str], cwd: str) -> str:
    """The file `argv[0]` will execute: looked up in the container's PATH when it has no
    `/`, else taken relative to `cwd`.  Raises `StartError` if it cannot be executed."""
    if not argv or not argv[0]:
        raise StartError(RUN_CONTAINER_ERROR, "no command given (command and args are empty)")
    cmd = argv[0]
    if "/" not in cmd:
        found = shutil.which(cmd, path=env.get("PATH", ""))
        if found is None:
            raise StartError(RUN_CONTAINER_ERROR, f'exec: "{cmd}": executable file not found in $PATH '
                                                  f'(PATH={env.get("PATH", "")})')
        return found
    path = Path(cwd, cmd)
    if not path.exists():
        raise StartError(RUN_CONTAINER_ERROR, f'exec: "{cmd}": no such file or directory')
    if path.is_dir():
        raise StartError(RUN_CONTAINER_ERROR, f'exec: "{cmd}": is a directory')
    if not os.access(path, os.X_OK):
        raise StartError(RUN_CONTAINER_ERROR, f'exec: "{cmd}": permission denied (not executable)')
    return str(path)
