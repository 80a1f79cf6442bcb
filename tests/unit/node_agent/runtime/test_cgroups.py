"""Host cgroup detection and per-container cgroup files, on fake hierarchies in tmp dirs."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from node_agent.runtime.cgroups import detect, parse_mountinfo
from node_agent.runtime.container_cgroup import (
    ContainerCgroup,
    OomCounters,
    cpu_quota_us,
    oom_killed,
)

# This machine's layout: v1 controllers plus an empty cgroup2 at .../unified.
HYBRID = """\
31 23 0:28 / {r} rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / {r}/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / {r}/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / {r}/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / {r}/unified rw,relatime - cgroup2 cgroup2 rw
"""


def fake_hybrid(tmp_path: Path) -> Path:
    for d in ("cpu", "cpuacct", "memory", "unified"):
        (tmp_path / d).mkdir()
    (tmp_path / "unified" / "cgroup.controllers").write_text("\n")
    info = tmp_path / "mountinfo"
    info.write_text(HYBRID.format(r=tmp_path))
    return info


def fake_v2(tmp_path: Path, controllers: str = "cpuset cpu io memory pids", parent: str = "skiff") -> Path:
    # cgroupfs makes the control files of a new directory itself; a tmp dir needs them made.
    for level in (tmp_path, *(tmp_path / p for p in reversed(Path(parent).parents[:-1])), tmp_path / parent):
        level.mkdir(exist_ok=True)
        (level / "cgroup.controllers").write_text(controllers + "\n")
        (level / "cgroup.subtree_control").write_text("\n")
    info = tmp_path / "mountinfo"
    info.write_text(f"25 1 0:22 / {tmp_path} rw - cgroup2 cgroup2 rw,nsdelegate\n")
    return info


def test_parse_mountinfo_unescapes_and_reads_super_options() -> None:
    line = r"36 25 0:31 / /sys/fs/cgroup/cpu\040x rw,nosuid shared:1 - cgroup cgroup rw,cpu,cpuacct"
    [m] = parse_mountinfo(line)
    assert (str(m.mount_point), m.fstype) == ("/sys/fs/cgroup/cpu x", "cgroup")
    assert {"cpu", "cpuacct"} <= m.super_options


def test_hybrid_host_is_v1_and_parents_are_created(tmp_path: Path) -> None:
    driver, caps = detect(fake_hybrid(tmp_path))
    assert (caps.cgroups, caps.memory_limits, caps.cpu_limits) == ("v1", True, True)
    assert driver is not None and driver.memory_parent == tmp_path / "memory" / "skiff"
    assert (tmp_path / "cpu" / "skiff").is_dir()
    cg = driver.for_container("uid", "web")
    assert cg.dirs == (tmp_path / "memory/skiff/uid-web", tmp_path / "cpu/skiff/uid-web")


def test_v2_enables_controllers_down_to_a_nested_parent(tmp_path: Path) -> None:
    driver, caps = detect(fake_v2(tmp_path, parent="skiff/node-1"), parent="skiff/node-1")
    assert (caps.cgroups, caps.memory_limits, caps.cpu_limits) == ("v2", True, True)
    assert driver is not None and driver.memory_parent == driver.cpu_parent == tmp_path / "skiff/node-1"
    # A plain file keeps only the last write; a real cgroupfs accumulates them.
    for level in (tmp_path, tmp_path / "skiff", tmp_path / "skiff/node-1"):
        assert (level / "cgroup.subtree_control").read_text() == "+memory"
    assert driver.for_container("u", "c").dirs == (tmp_path / "skiff/node-1/u-c",)


def test_v2_without_cpu_says_so(tmp_path: Path) -> None:
    _, caps = detect(fake_v2(tmp_path, controllers="memory pids"))
    assert (caps.memory_limits, caps.cpu_limits) == (True, False)
    assert "cpu limits not enforced" in caps.message


def test_nothing_mounted_is_reported_honestly(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text("22 1 0:20 / / rw - ext4 /dev/sda1 rw\n")
    driver, caps = detect(info)
    assert driver is None and (caps.cgroups, caps.memory_limits, caps.cpu_limits) == (None, False, False)
    assert "not enforced" in caps.message and "mounted" in caps.message


def test_an_unwritable_hierarchy_is_reported_with_the_reason(tmp_path: Path) -> None:
    info = fake_hybrid(tmp_path)
    (tmp_path / "memory").rmdir()
    (tmp_path / "memory").write_text("not a directory")  # mkdir under it fails, even as root
    driver, caps = detect(info)
    assert driver is not None and driver.memory_parent is None and driver.cpu_parent is not None
    assert (caps.memory_limits, caps.cpu_limits) == (False, True)
    assert "memory limits not enforced: cannot create" in caps.message


def test_parent_must_stay_inside_the_hierarchy(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        detect(fake_hybrid(tmp_path), parent="../escape")


def test_cpu_quota() -> None:
    assert cpu_quota_us(1000) == 100_000
    assert cpu_quota_us(250) == 25_000
    assert cpu_quota_us(1) == 1_000  # the kernel's minimum


def test_v1_limits_are_written(tmp_path: Path) -> None:
    (tmp_path / "mem").mkdir()
    (tmp_path / "cpu").mkdir()
    mem, cpu = tmp_path / "mem/c", tmp_path / "cpu/c"
    cg = ContainerCgroup("v1", (mem, cpu), mem, cpu)
    cg.create(memory_limit=50 * 2**20, cpu_limit_m=500)
    assert (tmp_path / "mem/c/memory.limit_in_bytes").read_text() == str(50 * 2**20)
    assert (tmp_path / "cpu/c/cpu.cfs_quota_us").read_text() == "50000"
    assert (tmp_path / "cpu/c/cpu.cfs_period_us").read_text() == "100000"
    assert ContainerCgroup.from_json(cg.to_json()) == cg


def test_v2_limits_are_written(tmp_path: Path) -> None:
    d = tmp_path / "c"
    cg = ContainerCgroup("v2", (d,), d, d)
    cg.create(memory_limit=1024, cpu_limit_m=1500)
    assert (d / "memory.max").read_text() == "1024"
    assert (d / "cpu.max").read_text() == "150000 100000"


def test_counters_are_read(tmp_path: Path) -> None:
    d = tmp_path / "c"
    d.mkdir()
    (d / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    (d / "memory.failcnt").write_text("5\n")
    assert ContainerCgroup("v1", (d,), d, None).oom_counters() == OomCounters(2, 5)
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert ContainerCgroup("v2", (d,), d, d).oom_counters() == OomCounters(1, None)


@pytest.mark.parametrize(("before", "after", "sig", "expected"), [
    (OomCounters(0, 0), OomCounters(1, 7), signal.SIGKILL, True),
    (OomCounters(0, 0), OomCounters(0, 7), signal.SIGKILL, False),  # oom_kill is authoritative
    (OomCounters(None, 0), OomCounters(None, 3), signal.SIGKILL, True),  # old v1 kernel fallback
    (OomCounters(None, 0), OomCounters(None, 3), None, False),
    (OomCounters(None, None), OomCounters(None, None), signal.SIGKILL, False),
])
def test_oom_killed(before: OomCounters, after: OomCounters, sig: int | None, expected: bool) -> None:
    assert oom_killed(before, after, sig) is expected


def test_remove_is_idempotent(tmp_path: Path) -> None:
    d = tmp_path / "c"
    d.mkdir()
    cg = ContainerCgroup("v2", (d,), d, d)
    assert cg.remove() and not d.exists() and cg.remove()
