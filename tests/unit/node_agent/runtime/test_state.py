"""Process identity, the state files, keyed locks and the shim's pure helpers."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node_agent.runtime.container_cgroup import ContainerCgroup
from node_agent.runtime.identity import ProcRef
from node_agent.runtime.layout import (
    ContainerDir,
    ExitRecord,
    RunRecord,
    check_component,
    read_json,
    write_json,
)
from node_agent.runtime.locks import KeyedLocks
from node_agent.runtime.shim import ShimConfig, exit_code_of, reason_of


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        yield proc
    finally:
        proc.kill()  # our own unreaped child: its PID cannot have been reused
        proc.wait()


def test_procref_matches_only_the_same_process(sleeper: subprocess.Popen[bytes]) -> None:
    ref = ProcRef.of(sleeper.pid)
    assert ref.exists() and ref.running()
    impostor = dataclasses.replace(ref, start_ticks=ref.start_ticks - 1)  # "an earlier owner of the PID"
    assert not impostor.exists()
    assert not dataclasses.replace(ref, boot="another boot").exists()  # ticks repeat after a reboot
    assert not impostor.signal(signal.SIGKILL) and not impostor.signal_group(signal.SIGKILL)
    assert sleeper.poll() is None  # the impostor check protected it
    assert ProcRef.from_json(ref.to_json()) == ref
    assert ref.signal(signal.SIGTERM)
    sleeper.wait(10)
    assert not ref.exists() and not ref.signal(signal.SIGTERM)


def test_procref_of_a_missing_pid() -> None:
    with pytest.raises(ProcessLookupError):
        ProcRef.of(2**22 + 1)  # above any pid_max


def test_zombie_exists_but_is_not_running(sleeper: subprocess.Popen[bytes]) -> None:
    ref = ProcRef.of(sleeper.pid)
    os.kill(sleeper.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while ref.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ref.exists() and not ref.running()  # not reaped yet


def test_state_files_round_trip(tmp_path: Path) -> None:
    me = ProcRef.of(os.getpid())
    cdir = ContainerDir(tmp_path)
    assert cdir.run_record() is None and cdir.exit_record() is None
    run = RunRecord(me, me, 12.5)
    write_json(cdir.pid, run.to_json())
    ended = ExitRecord(137, 9, "OOMKilled", 13.0)
    write_json(cdir.exit, ended.to_json())
    assert (cdir.run_record(), cdir.exit_record()) == (run, ended)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exit.json", "pid.json"]  # no temp files
    cdir.exit.write_text("[1, 2]")
    assert read_json(cdir.exit) is None


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "x\0"])
def test_path_components_are_checked(bad: str) -> None:
    with pytest.raises(ValueError):
        check_component(bad, "name")
    assert check_component("web-1", "name") == "web-1"


def test_keyed_locks_serialise_per_key_and_are_dropped() -> None:
    locks = KeyedLocks()
    inside = threading.Event()
    release = threading.Event()

    def hold_a() -> None:
        with locks.hold("a"):
            inside.set()
            release.wait(10)

    t = threading.Thread(target=hold_a)
    t.start()
    assert inside.wait(10)
    with locks.hold("b"):  # another key does not wait
        assert len(locks) == 2
    release.set()
    t.join(10)
    assert len(locks) == 0


def test_shim_helpers() -> None:
    assert exit_code_of(0) == (0, None) and exit_code_of(3) == (3, None)
    assert exit_code_of(-9) == (137, 9) and exit_code_of(-15) == (143, 15)
    assert reason_of(0, oom=True) == "Completed"
    assert (reason_of(137, oom=True), reason_of(137, oom=False)) == ("OOMKilled", "Error")
    cg = ContainerCgroup("v2", (Path("/x"),), Path("/x"), None)
    config = ShimConfig(["sh", "-c", "true"], {"A": "1"}, "/", cg, 100, 2)
    assert ShimConfig.from_json(config.to_json()) == config
