"""The process runtime: each container is a host process supervised by a shim
(`shim.py`), with its state on disk (`layout.py`) so any `ProcessRuntime` on the same root,
in this agent or the next one, sees the same containers.

What it is not: no images, no filesystem, PID, network or user isolation.  A container
runs as the agent's user, sees the host's filesystem and network, and is limited only by
the cgroups that `capabilities()` reports as enforced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import signal
import time
from pathlib import Path

from node_agent.runtime import preflight
from node_agent.runtime.base import KILL_WAIT, Capabilities, ContainerSpec, ContainerState, StartError
from node_agent.runtime.cgroups import DEFAULT_PARENT, CgroupDriver, detect
from node_agent.runtime.container_cgroup import CgroupError, ContainerCgroup
from node_agent.runtime.launcher import DEFAULT_START_TIMEOUT, LaunchError, launch
from node_agent.runtime.layout import ContainerDir, RunRecord, check_component, read_json, write_json
from node_agent.runtime.locks import KeyedLocks
from node_agent.runtime.logs import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES, hand_over_to_previous
from node_agent.runtime.shim import ShimConfig

log = logging.getLogger(__name__)

UNKNOWN_REASON = "ContainerStatusUnknown"  # Kubernetes' word for "its end was not observed"
UNKNOWN_EXIT_CODE = 137
_POLL = 0.02


class ProcessRuntime:
    """The default `Runtime`: see `base.py` for the contract every runtime keeps.

    Specific to this one:
    - `start` on a running container returns its state and launches nothing; on an exited
      one it begins a new run (new PID; the old run's log becomes `previous.log`).
    - After `StartError` raised by the checks before launch (command not found, not
      executable, bad working directory, cgroup not creatable), nothing changed: a new
      container does not exist, an old one keeps its last state.  If the shim itself
      could not exec the command, the run is recorded as exited with exit code 128 and
      reason `ContainerCannotRun`, and the log says why.
    - `status` is `None` while the first `start` of a container is still in progress.
      A run whose shim died before recording the exit is reported as exited with reason
      `ContainerStatusUnknown` (exit code 137) once its process is gone.
    - `remove` of a running container kills it first (no grace).
    - Calls on the same container are serialised; calls on different containers never
      wait for each other.  `status`, `containers`, `log_path` and `capabilities` take no
      lock at all.
    """

    def __init__(self, root: Path, *, log_max_bytes: int = DEFAULT_MAX_BYTES,
                 log_max_files: int = DEFAULT_MAX_FILES, cgroups: bool = True,
                 cgroup_parent: str = DEFAULT_PARENT, start_timeout: float = DEFAULT_START_TIMEOUT) -> None:
        """`root` is created if missing.  `cgroups=False` never touches cgroups (and says
        so in `capabilities()`); otherwise they are detected once, here."""
        if log_max_bytes < 1 or log_max_files < 1:
            raise ValueError("log_max_bytes and log_max_files must be at least 1")
        self.root = root
        self._log_max_bytes = log_max_bytes
        self._log_max_files = log_max_files
        self._start_timeout = start_timeout
        self._locks = KeyedLocks()
        root.mkdir(parents=True, exist_ok=True)
        self._driver: CgroupDriver | None
        if cgroups:
            self._driver, self._caps = detect(parent=cgroup_parent)
        else:
            self._driver = None
            self._caps = Capabilities(None, False, False,
                                      "memory and cpu limits are not enforced: cgroups are disabled "
                                      "in the agent's configuration")

    # -- queries (lock-free) ------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        return self._caps

    def containers(self) -> list[tuple[str, str]]:
        found = []
        for pod in _subdirs(self.root):
            found += [(pod.name, c.name) for c in _subdirs(pod) if (c / "spec.json").exists()]
        return found

    def log_path(self, pod_uid: str, name: str, previous: bool = False) -> Path:
        """The path whether or not the file exists yet (a container that printed nothing,
        or was never restarted, has no `previous.log`)."""
        cdir = self._dir(pod_uid, name)
        return cdir.previous_log if previous else cdir.log

    def status(self, pod_uid: str, name: str) -> ContainerState | None:
        try:
            cdir = self._dir(pod_uid, name)
        except ValueError:
            return None
        return _observe(cdir)

    # -- changes (serialised per container) -----------------------------------------

    def start(self, spec: ContainerSpec) -> ContainerState:
        try:
            cdir = self._dir(spec.pod_uid, spec.name)
        except ValueError as e:
            raise StartError("CreateContainerConfigError", str(e)) from e
        with self._locks.hold((spec.pod_uid, spec.name)):
            current = self._settled(cdir)
            if current is not None and current.state == "running":
                return current
            env = preflight.container_env(spec.env)
            cwd = preflight.working_dir(spec.working_dir)
            preflight.executable(spec.argv, env, cwd)
            cdir.path.mkdir(parents=True, exist_ok=True)
            self._retire_run(cdir)
            cgroup = self._make_cgroup(spec)
            config = ShimConfig(list(spec.argv), env, cwd, cgroup, self._log_max_bytes, self._log_max_files)
            write_json(cdir.spec, dataclasses.asdict(spec))
            write_json(cdir.run, config.to_json())
            return self._launch(cdir, config)

    def stop(self, pod_uid: str, name: str, grace: float) -> None:
        cdir = self._dir(pod_uid, name)
        with self._locks.hold((pod_uid, name)):
            self._stop_locked(cdir, grace)

    def signal(self, pod_uid: str, name: str, sig: int) -> bool:
        """Send `sig` to the running container's process group (`docker kill --signal`);
        False if it is not running.  The run's identity (PID + start time) is checked,
        so a recycled PID is never signalled."""
        run = self._dir(pod_uid, name).run_record()
        return run is not None and run.container.signal_group(sig)

    def remove(self, pod_uid: str, name: str) -> None:
        cdir = self._dir(pod_uid, name)
        with self._locks.hold((pod_uid, name)):
            if not cdir.path.exists():
                return
            self._stop_locked(cdir, 0.0)
            cgroup = _cgroup_of(cdir)
            if cgroup is not None and not cgroup.remove():
                log.warning("cgroup of %s/%s could not be removed: %s", pod_uid, name, cgroup.dirs)
            shutil.rmtree(cdir.path, ignore_errors=True)
            with contextlib.suppress(OSError):
                cdir.path.parent.rmdir()  # the pod's directory, once its last container is gone

    # -- internals ------------------------------------------------------------------

    def _dir(self, pod_uid: str, name: str) -> ContainerDir:
        return ContainerDir(self.root / check_component(pod_uid, "pod uid") / check_component(name, "name"))

    def _settled(self, cdir: ContainerDir) -> ContainerState | None:
        """The state, after waiting (briefly) for a run whose process is gone but whose
        shim is still recording the exit, so a restart never races its own predecessor."""
        run = cdir.run_record()
        if run is not None and not cdir.exit.exists() and not run.container.running():
            _wait_ended(cdir, run, KILL_WAIT)
        return _observe(cdir)

    def _make_cgroup(self, spec: ContainerSpec) -> ContainerCgroup | None:
        wants = spec.memory_limit is not None or spec.cpu_limit_m is not None
        if not wants:
            return None
        if self._driver is None:
            log.warning("limits of %s/%s are not enforced: %s", spec.pod_uid, spec.name, self._caps.message)
            return None
        cgroup = self._driver.for_container(spec.pod_uid, spec.name)
        try:
            cgroup.create(spec.memory_limit, spec.cpu_limit_m)
        except CgroupError as e:
            cgroup.remove()
            message = f"cannot set up the container's cgroup: {e}"
            raise StartError(preflight.RUN_CONTAINER_ERROR, message) from e
        return cgroup

    def _retire_run(self, cdir: ContainerDir) -> None:
        """Clear the finished run (if any) out of the way of the next one.  Caller holds
        the lock and has checked that nothing is running."""
        old = _cgroup_of(cdir)
        if old is not None:
            old.remove()
        hand_over_to_previous(cdir.log, cdir.previous_log)
        cdir.pid.unlink(missing_ok=True)
        cdir.exit.unlink(missing_ok=True)

    def _launch(self, cdir: ContainerDir, config: ShimConfig) -> ContainerState:
        try:
            report = launch(cdir, self._start_timeout)
        except LaunchError as e:
            if config.cgroup is not None and not cdir.pid.exists():
                config.cgroup.remove()
            raise StartError(preflight.RUN_CONTAINER_ERROR, str(e)) from e
        if "error" in report:
            if config.cgroup is not None:
                config.cgroup.remove()
            raise StartError(preflight.RUN_CONTAINER_ERROR, str(report["error"]))
        return ContainerState("running", pid=int(report["pid"]), started_at=float(report["started_at"]))

    def _stop_locked(self, cdir: ContainerDir, grace: float) -> None:
        run = cdir.run_record()
        if run is None or cdir.exit.exists():
            return
        if grace > 0 and run.container.signal_group(signal.SIGTERM) and _wait_ended(cdir, run, grace):
            return
        run.container.signal_group(signal.SIGKILL)
        cgroup = _cgroup_of(cdir)
        if cgroup is not None:
            cgroup.kill_all(signal.SIGKILL)
        if not _wait_ended(cdir, run, KILL_WAIT):
            log.warning("container in %s did not end within %ss of SIGKILL", cdir.path, KILL_WAIT)


def _subdirs(path: Path) -> list[Path]:
    """Sorted subdirectories; [] if `path` vanished (a concurrent `remove`)."""
    try:
        return sorted(p for p in path.iterdir() if p.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _cgroup_of(cdir: ContainerDir) -> ContainerCgroup | None:
    data = read_json(cdir.run)
    if data is None or data.get("cgroup") is None:
        return None
    return ContainerCgroup.from_json(data["cgroup"])


def _alive(run: RunRecord) -> bool:
    """The run's process or its shim still runs.  Zombies count as ended: an orphaned
    container's zombie waits for init, which may reap only every second or two."""
    return run.container.running() or run.shim.running()


def _ended(cdir: ContainerDir, run: RunRecord) -> bool:
    return cdir.exit.exists() or not _alive(run)


def _wait_ended(cdir: ContainerDir, run: RunRecord, timeout: float) -> bool:
    """Wait until the run has ended and (if its shim lives) its exit is recorded."""
    deadline = time.monotonic() + timeout
    while not _ended(cdir, run):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True


def _observe(cdir: ContainerDir) -> ContainerState | None:
    """The container's state from its files and the liveness of its processes.  Never blocks."""
    ended = cdir.exit_record()
    run = cdir.run_record()
    started = None if run is None else run.started_at
    if ended is None and run is not None:
        if _alive(run):
            return ContainerState("running", pid=run.container.pid, started_at=started)
        ended = cdir.exit_record()  # the shim may have written it just now
        if ended is None:
            return ContainerState("exited", started_at=started, exit_code=UNKNOWN_EXIT_CODE,
                                  reason=UNKNOWN_REASON)
    if ended is None:
        return None
    return ContainerState("exited", started_at=started, finished_at=ended.finished_at,
                          exit_code=ended.exit_code, reason=ended.reason)
