"""What a node reports about itself, from numbers fed in (`MachineSample`): capacity and
allocatable, live usage, and conditions that keep their lastTransitionTime while their
status holds (as the kubelet's node status setters do)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from control_plane.api.objects import Obj
from control_plane.api.quantity import memory_bytes
from control_plane.client.clock import rfc3339
from node_agent import nodestatus
from node_agent.nodestatus import MachineSample, capacity, conditions, usage

GiB = 1024**3
T0 = 1_800_000_000.0


BASE = MachineSample(cpus=4, cpu_percent=12.345, memory_total=8 * GiB, memory_available=6 * GiB,
                     disk_total=100 * GiB, disk_free=50 * GiB, load=(0.5, 0.25, 0.125))


def machine(**change: Any) -> MachineSample:
    return dataclasses.replace(BASE, **change)


def by_type(conds: list[Obj]) -> dict[str, Obj]:
    return {c["type"]: c for c in conds}


def test_capacity_and_allocatable_are_kubernetes_quantities() -> None:
    cap, alloc = capacity(machine())
    assert cap == {"cpu": "4", "memory": f"{8 * 1024 * 1024}Ki",
                   "ephemeral-storage": f"{100 * 1024 * 1024}Ki", "pods": "110"}
    # Allocatable is capacity minus what the system keeps (kube-reserved in Kubernetes).
    assert memory_bytes(alloc["memory"]) == 8 * GiB - nodestatus.RESERVED_MEMORY
    assert {**alloc, "memory": None} == {**cap, "memory": None}


def test_allocatable_memory_is_never_negative() -> None:
    _, alloc = capacity(machine(memory_total=100 * 1024 * 1024))
    assert alloc["memory"] == "0Ki"


def test_usage() -> None:
    assert usage(machine()) == {
        "cpuFraction": 0.1235, "cpuPercent": 12.3, "memoryFraction": 0.25, "memoryUsedBytes": 2 * GiB,
        "memoryAvailableBytes": 6 * GiB, "load1": 0.5, "load5": 0.25, "load15": 0.12,
        "diskFreeBytes": 50 * GiB, "diskTotalBytes": 100 * GiB,
    }
    assert usage(machine(memory_total=0, memory_available=0))["memoryFraction"] == 0.0


def test_a_healthy_node() -> None:
    conds = conditions(machine(), T0, [], "cgroup v2 (memory, cpu)", True)
    assert [c["type"] for c in conds] == ["Ready", "MemoryPressure", "DiskPressure", "ResourceLimits"]
    got = {c["type"]: (c["status"], c["reason"]) for c in conds}
    assert got == {"Ready": ("True", "KubeletReady"),
                   "MemoryPressure": ("False", "KubeletHasSufficientMemory"),
                   "DiskPressure": ("False", "KubeletHasNoDiskPressure"),
                   "ResourceLimits": ("True", "CgroupsAvailable")}
    stamp = rfc3339(T0)
    assert all(c["lastHeartbeatTime"] == c["lastTransitionTime"] == stamp for c in conds)
    assert by_type(conds)["MemoryPressure"]["message"] == "6144 MiB available"
    assert by_type(conds)["DiskPressure"]["message"] == "51200 MiB free"
    assert by_type(conds)["ResourceLimits"]["message"] == "cgroup v2 (memory, cpu)"


@pytest.mark.parametrize(("available", "pressure"), [(0.04, "True"), (0.05, "False"), (0.5, "False")])
def test_memory_pressure_below_5_percent_available(available: float, pressure: str) -> None:
    s = machine(memory_total=1000 * 1024 * 1024, memory_available=int(available * 1000 * 1024 * 1024))
    cond = by_type(conditions(s, T0, [], "", True))["MemoryPressure"]
    assert cond["status"] == pressure
    reason = "KubeletHasInsufficientMemory" if pressure == "True" else "KubeletHasSufficientMemory"
    assert cond["reason"] == reason


@pytest.mark.parametrize(("free", "pressure"), [(0.09, "True"), (0.10, "False")])
def test_disk_pressure_below_10_percent_free(free: float, pressure: str) -> None:
    s = machine(disk_total=1000 * GiB, disk_free=int(free * 1000 * GiB))
    cond = by_type(conditions(s, T0, [], "", True))["DiskPressure"]
    assert (cond["status"], cond["reason"]) == (
        pressure, "KubeletHasDiskPressure" if pressure == "True" else "KubeletHasNoDiskPressure")


def test_unknown_totals_are_no_pressure() -> None:
    s = machine(memory_total=0, memory_available=0, disk_total=0, disk_free=0)
    got = by_type(conditions(s, T0, [], "", True))
    assert got["MemoryPressure"]["status"] == got["DiskPressure"]["status"] == "False"


def test_limits_not_enforced_is_reported() -> None:
    cond = by_type(conditions(machine(), T0, [], "no cgroup controllers writable", False))["ResourceLimits"]
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False", "CgroupsUnavailable", "no cgroup controllers writable")


def test_transition_times_are_kept_while_the_status_holds() -> None:
    first = conditions(machine(), T0, [], "", True)
    later = T0 + 60
    squeezed = machine(memory_available=GiB // 100)
    second = conditions(squeezed, later, first, "", True)
    got = by_type(second)
    # Ready stayed True: its transition time is the first report's; its heartbeat is now.
    ready = got["Ready"]
    assert (ready["lastTransitionTime"], ready["lastHeartbeatTime"]) == (rfc3339(T0), rfc3339(later))
    # MemoryPressure flipped to True: it transitioned now.
    assert got["MemoryPressure"]["status"] == "True"
    assert got["MemoryPressure"]["lastTransitionTime"] == rfc3339(later)
    third = by_type(conditions(squeezed, later + 60, second, "", True))
    assert third["MemoryPressure"]["lastTransitionTime"] == rfc3339(later)


def test_a_previous_condition_without_a_transition_time_gets_one() -> None:
    previous = [{"type": "Ready", "status": "True"}, {"type": "Odd"}]
    ready = by_type(conditions(machine(), T0, previous, "", True))["Ready"]
    assert ready["lastTransitionTime"] == rfc3339(T0)


def test_node_info() -> None:
    info = nodestatus.node_info("skiff-process://0.1")
    assert info["kubeletVersion"] == f"skiff-{nodestatus.SKIFF_VERSION}"
    assert (info["operatingSystem"], info["containerRuntimeVersion"]) == ("linux", "skiff-process://0.1")
    assert info["osImage"] and info["hostname"]
    # Kubernetes' GOARCH names, as the scheduler's kubernetes.io/arch label uses them.
    assert [nodestatus._arch(m) for m in ("x86_64", "aarch64", "riscv64")] == ["amd64", "arm64", "riscv64"]


def test_sample_reads_this_machine(tmp_path: Path) -> None:
    s = nodestatus.sample(tmp_path)
    assert s.cpus >= 1 and 0 < s.memory_available <= s.memory_total and 0 <= s.disk_free <= s.disk_total
    assert 0.0 <= s.cpu_percent <= 100.0 and len(s.load) == 3
