"""The process runtime against real processes (and, as root, real cgroups).

Every test's containers live under its own root; the `root` fixture removes them all
(by the runtime's own PID + start-time records, never by name) even when a test fails.
Pod uids are random because cgroup directories are shared by the whole machine.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from node_agent.runtime.base import ContainerSpec, ContainerState, StartError
from node_agent.runtime.identity import ProcRef
from node_agent.runtime.logs import rotated
from node_agent.runtime.process import ProcessRuntime
from tests.integration.needs import need

TIMEOUT = 30.0


def wait_for(cond: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def spec(argv: list[str], uid: str | None = None, name: str = "c", **kw: Any) -> ContainerSpec:
    return ContainerSpec(pod_uid=uid or str(uuid.uuid4()), pod_namespace="default", pod_name="p",
                         name=name, argv=argv, **kw)


def exited(rt: ProcessRuntime, s: ContainerSpec) -> ContainerState:
    wait_for(lambda: (st := rt.status(s.pod_uid, s.name)) is not None and st.state == "exited",
             f"{s.name} to exit")
    state = rt.status(s.pod_uid, s.name)
    assert state is not None
    return state


def log_of(rt: ProcessRuntime, s: ContainerSpec, previous: bool = False) -> str:
    path = rt.log_path(s.pod_uid, s.name, previous=previous)
    return path.read_text() if path.exists() else ""


def wait_log(rt: ProcessRuntime, s: ContainerSpec, text: str) -> None:
    wait_for(lambda: text in log_of(rt, s), f"{text!r} in the log of {s.name}")


def _remove_all(root: Path) -> None:
    if root.exists():
        rt = ProcessRuntime(root)
        for uid, name in rt.containers():
            rt.remove(uid, name)


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "containers"
    try:
        yield root
    finally:
        _remove_all(root)


@pytest.fixture
def rt(root: Path) -> ProcessRuntime:
    return ProcessRuntime(root)


def need_cgroups(rt: ProcessRuntime, memory: bool = False, cpu: bool = False) -> None:
    caps = rt.capabilities()
    need(os.geteuid() == 0, f"cgroups need root (uid {os.geteuid()}): {caps.message}")
    need(not ((memory and not caps.memory_limits) or (cpu and not caps.cpu_limits)),
         f"the needed cgroup controller is not usable: {caps.message}")


# -- lifecycle ----------------------------------------------------------------------------


def test_start_runs_logs_and_stops_with_sigterm(rt: ProcessRuntime) -> None:
    s = spec(["sh", "-c", "echo hi; sleep 30"])
    started = rt.start(s)
    assert started.state == "running" and started.pid is not None and started.started_at is not None
    container = ProcRef.of(started.pid)
    assert container.running()
    assert rt.status(s.pod_uid, s.name) == started
    assert rt.containers() == [(s.pod_uid, s.name)]
    wait_log(rt, s, "hi\n")
    rt.stop(s.pod_uid, s.name, grace=10)
    state = rt.status(s.pod_uid, s.name)
    assert state is not None and state.state == "exited"
    assert (state.exit_code, state.reason) == (128 + signal.SIGTERM, "Error")
    assert state.finished_at is not None and state.finished_at >= started.started_at
    assert not container.exists()


def test_a_process_ignoring_sigterm_is_killed_after_grace(rt: ProcessRuntime) -> None:
    s = spec(["sh", "-c", "trap 'echo got TERM' TERM; echo ready; while true; do sleep 0.1; done"])
    rt.start(s)
    wait_log(rt, s, "ready")
    rt.stop(s.pod_uid, s.name, grace=2)
    # It got its grace period: SIGTERM first (it said so and went on), SIGKILL after.
    wait_log(rt, s, "got TERM")
    state = rt.status(s.pod_uid, s.name)
    assert state is not None and (state.state, state.exit_code, state.reason) == ("exited", 137, "Error")


@pytest.mark.parametrize(("code", "reason"), [(0, "Completed"), (3, "Error")])
def test_exit_code_and_reason(rt: ProcessRuntime, code: int, reason: str) -> None:
    s = spec(["sh", "-c", f"exit {code}"])
    rt.start(s)
    state = exited(rt, s)
    assert (state.exit_code, state.reason) == (code, reason)
    rt.stop(s.pod_uid, s.name, grace=1)  # a no-op on an exited container
    assert rt.status(s.pod_uid, s.name) == state


@pytest.mark.parametrize(("argv", "cwd", "message"), [
    (["no-such-command-skiff"], None, "executable file not found in $PATH"),
    (["./plain-file"], "TMP", "permission denied"),
    (["/tmp"], None, "is a directory"),
    (["sh", "-c", "true"], "/no/such/dir", "no such file or directory"),
    (["sh", "-c", "true"], "TMP/plain-file", "not a directory"),
])
def test_start_errors(rt: ProcessRuntime, tmp_path: Path, argv: list[str], cwd: str | None,
                      message: str) -> None:
    (tmp_path / "plain-file").write_text("not a program\n")
    s = spec(argv, working_dir=None if cwd is None else cwd.replace("TMP", str(tmp_path)))
    with pytest.raises(StartError) as err:
        rt.start(s)
    assert err.value.reason == "RunContainerError"
    assert message in err.value.message
    assert rt.status(s.pod_uid, s.name) is None


def test_an_exec_failure_seen_by_the_shim_is_a_start_error_and_an_exited_run(
        rt: ProcessRuntime, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus"
    bogus.write_bytes(b"\x00\x01 no shebang, no ELF\n")
    bogus.chmod(0o755)  # passes the checks before launch; execve says ENOEXEC
    s = spec([str(bogus)])
    with pytest.raises(StartError) as err:
        rt.start(s)
    assert err.value.reason == "RunContainerError" and "Exec format error" in err.value.message
    state = rt.status(s.pod_uid, s.name)
    assert state is not None and (state.state, state.exit_code, state.reason) == (
        "exited", 128, "ContainerCannotRun")
    assert "Exec format error" in log_of(rt, s)


def test_env_and_working_dir(rt: ProcessRuntime, tmp_path: Path) -> None:
    s = spec(["sh", "-c", 'echo "foo=$FOO home=$HOME"; pwd; command -v sh'], env={"FOO": "bar baz"},
             working_dir=str(tmp_path))
    rt.start(s)
    assert exited(rt, s).reason == "Completed"
    out = log_of(rt, s).splitlines()
    # Only the spec's env (plus the host's PATH): HOME is not inherited from the agent.
    assert out[:2] == ["foo=bar baz home=", str(tmp_path)]
    assert out[2].endswith("/sh")


def test_stdout_and_stderr_both_logged_and_stdin_empty(rt: ProcessRuntime) -> None:
    s = spec(["sh", "-c", "echo out; echo err >&2; cat; echo done"])
    rt.start(s)
    assert exited(rt, s).reason == "Completed"
    assert log_of(rt, s).split() == ["out", "err", "done"]


def test_children_left_behind_die_with_the_main_process(rt: ProcessRuntime) -> None:
    s = spec(["sh", "-c", "sleep 300 & echo $!; sleep 1"])
    rt.start(s)
    wait_for(lambda: log_of(rt, s).strip().isdigit(), "the background pid in the log")
    orphan = ProcRef.of(int(log_of(rt, s)))
    assert exited(rt, s).reason == "Completed"
    wait_for(lambda: not orphan.running(), "the background sleep to be killed")


def test_concurrent_starts_of_one_container_start_it_once(rt: ProcessRuntime) -> None:
    s = spec(["sleep", "30"])
    states: list[ContainerState] = []
    threads = [threading.Thread(target=lambda: states.append(rt.start(s))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert len(states) == 4 and len({st.pid for st in states}) == 1


# -- re-adoption, restarts, logs --------------------------------------------------------


def test_a_new_runtime_adopts_a_running_container_and_stops_it(root: Path) -> None:
    first = ProcessRuntime(root)
    s = spec(["sh", "-c", "echo up; sleep 30"])
    started = first.start(s)
    del first
    second = ProcessRuntime(root)
    assert second.containers() == [(s.pod_uid, s.name)]
    assert second.status(s.pod_uid, s.name) == started
    assert started.pid is not None
    assert psutil.Process(started.pid).ppid() != os.getpid()  # the shim, not the agent
    second.stop(s.pod_uid, s.name, grace=5)
    state = second.status(s.pod_uid, s.name)
    assert state is not None and (state.state, state.exit_code) == ("exited", 143)


def test_an_exit_while_no_runtime_exists_is_reported_later(root: Path) -> None:
    first = ProcessRuntime(root)
    s = spec(["sh", "-c", "sleep 0.5; exit 7"])
    started = first.start(s)
    assert started.pid is not None
    proc = ProcRef.of(started.pid)
    del first
    wait_for(lambda: not proc.exists(), "the container to exit")
    second = ProcessRuntime(root)
    state = exited(second, s)
    assert (state.exit_code, state.reason, state.started_at) == (7, "Error", started.started_at)


def test_a_run_whose_shim_died_is_reported_unknown_once_gone(rt: ProcessRuntime, root: Path) -> None:
    s = spec(["sleep", "30"])
    started = rt.start(s)
    pid_file = root / s.pod_uid / s.name / "pid.json"
    shim = ProcRef.from_json(json.loads(pid_file.read_text())["shim"])
    assert shim.signal(signal.SIGKILL)
    wait_for(lambda: not shim.running(), "the shim to die")
    assert rt.status(s.pod_uid, s.name) == started  # the container itself still runs
    rt.stop(s.pod_uid, s.name, grace=5)
    state = rt.status(s.pod_uid, s.name)
    assert state is not None and (state.state, state.reason, state.exit_code) == (
        "exited", "ContainerStatusUnknown", 137)


def test_restart_starts_a_new_run_and_keeps_the_previous_log(rt: ProcessRuntime) -> None:
    s = spec(["sh", "-c", "echo run-one"])
    one = rt.start(s)
    exited(rt, s)
    again = ContainerSpec(**{**s.__dict__, "argv": ["sh", "-c", "echo run-two; sleep 30"]})
    two = rt.start(again)
    assert two.state == "running" and two.pid != one.pid
    wait_log(rt, s, "run-two")
    assert log_of(rt, s) == "run-two\n"
    assert log_of(rt, s, previous=True) == "run-one\n"
    assert rt.start(again) == two  # running: start is a no-op


def test_log_rotation(root: Path) -> None:
    rt = ProcessRuntime(root, log_max_bytes=1000, log_max_files=3)
    lines = [f"line-{i:03d}-{'x' * 40}" for i in range(200)]  # 10,000 bytes
    s = spec(["sh", "-c", "for i in $(seq 0 199); do printf 'line-%03d-%s\\n' $i " + "x" * 40 + "; done"])
    rt.start(s)
    assert exited(rt, s).reason == "Completed"
    current = rt.log_path(s.pod_uid, s.name)
    files = [rotated(current, i) for i in (2, 1, 0)]
    assert all(f.exists() and f.stat().st_size <= 1000 for f in files)
    assert not rotated(current, 3).exists()
    kept = "".join(f.read_text() for f in files)
    expected = "".join(line + "\n" for line in lines)
    assert expected.endswith(kept) and len(kept) > 2000
    # A restart hands the current file over to previous.log and starts a fresh series.
    last = current.read_text()
    rt.start(spec(["true"], uid=s.pod_uid))
    exited(rt, s)
    assert log_of(rt, s, previous=True) == last
    assert not rotated(current, 1).exists()


# -- cgroups --------------------------------------------------------------------------


def test_memory_limit_oom_kill(rt: ProcessRuntime) -> None:
    need_cgroups(rt, memory=True)
    s = spec([sys.executable, "-c", "x = bytearray(200 * 1024 * 1024)"], memory_limit=50 * 2**20)
    rt.start(s)
    state = exited(rt, s)
    assert (state.reason, state.exit_code) == ("OOMKilled", 137)


def test_a_process_within_its_memory_limit_completes(rt: ProcessRuntime) -> None:
    need_cgroups(rt, memory=True)
    s = spec([sys.executable, "-c", "x = bytearray(10 * 1024 * 1024)"], memory_limit=100 * 2**20)
    rt.start(s)
    assert exited(rt, s).reason == "Completed"


def _cgroup_dirs(rt: ProcessRuntime, s: ContainerSpec) -> dict[str, Path]:
    driver = rt._driver
    assert driver is not None
    cg = driver.for_container(s.pod_uid, s.name)
    return {k: v for k, v in (("memory", cg.memory_dir), ("cpu", cg.cpu_dir)) if v is not None}


def test_limits_are_written_and_the_cgroup_is_removed_with_the_container(rt: ProcessRuntime) -> None:
    need_cgroups(rt, memory=True, cpu=True)
    s = spec(["sleep", "30"], memory_limit=64 * 2**20, cpu_limit_m=250)
    started = rt.start(s)
    dirs = _cgroup_dirs(rt, s)
    caps = rt.capabilities()
    if caps.cgroups == "v1":
        assert (dirs["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "25000"
        assert (dirs["cpu"] / "cpu.cfs_period_us").read_text().strip() == "100000"
        assert int((dirs["memory"] / "memory.limit_in_bytes").read_text()) == 64 * 2**20
    else:
        assert (dirs["cpu"] / "cpu.max").read_text().split() == ["25000", "100000"]
        assert int((dirs["memory"] / "memory.max").read_text()) == 64 * 2**20
    for d in dirs.values():
        assert str(started.pid) in (d / "cgroup.procs").read_text().split()
    rt.stop(s.pod_uid, s.name, grace=5)
    assert all(d.exists() for d in dirs.values())  # a stopped container keeps its cgroup
    rt.remove(s.pod_uid, s.name)
    assert not any(d.exists() for d in dirs.values())
    assert rt.status(s.pod_uid, s.name) is None and rt.containers() == []
    rt.remove(s.pod_uid, s.name)  # idempotent


def test_stop_kills_processes_that_left_the_group_through_the_cgroup(rt: ProcessRuntime) -> None:
    need_cgroups(rt, memory=True)
    s = spec(["sh", "-c", "setsid sleep 300 & echo $!; sleep 300"], memory_limit=64 * 2**20)
    rt.start(s)
    wait_for(lambda: log_of(rt, s).strip().isdigit(), "the escaped pid in the log")
    escaped = ProcRef.of(int(log_of(rt, s)))
    main = rt.status(s.pod_uid, s.name)
    assert main is not None and main.pid is not None
    main_pid = main.pid
    # `$!` is printed before the child has run setsid(1): wait for it to leave the group.
    wait_for(lambda: os.getpgid(escaped.pid) != os.getpgid(main_pid), "the sleep to leave the group")
    rt.stop(s.pod_uid, s.name, grace=1)
    wait_for(lambda: not escaped.running(), "the escaped sleep to die")


def test_without_cgroups_limits_are_reported_unenforced_and_processes_still_run(root: Path) -> None:
    rt = ProcessRuntime(root, cgroups=False)
    caps = rt.capabilities()
    assert (caps.cgroups, caps.memory_limits, caps.cpu_limits) == (None, False, False)
    assert "not enforced" in caps.message
    s = spec(["sh", "-c", "echo unlimited"], memory_limit=50 * 2**20, cpu_limit_m=100)
    rt.start(s)
    assert exited(rt, s).reason == "Completed"
    assert log_of(rt, s) == "unlimited\n"
