"""What the node reports about itself, read from the machine with psutil.

Pure functions of a `MachineSample` (so tests can feed numbers) plus `sample()`, the
one place that reads the real machine.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

from control_plane.api.objects import Obj
from control_plane.client.clock import rfc3339

SKIFF_VERSION = "0.1.0"
MEMORY_PRESSURE = 0.05  # available below 5 % of total
DISK_PRESSURE = 0.10  # free below 10 % of total
RESERVED_MEMORY = 256 * 1024 * 1024  # kept back for the system, like kube-reserved


@dataclass(frozen=True)
class MachineSample:
    cpus: int
    cpu_percent: float  # 0..100 over all CPUs
    memory_total: int
    memory_available: int
    disk_total: int
    disk_free: int
    load: tuple[float, float, float]


def sample(disk_path: Path) -> MachineSample:
    """Read the machine now (cpu_percent since the previous call)."""
    mem = psutil.virtual_memory()
    disk = psutil.disk_usage(str(disk_path))
    return MachineSample(
        psutil.cpu_count() or 1,
        psutil.cpu_percent(interval=None),
        mem.total,
        mem.available,
        disk.total,
        disk.free,
        os.getloadavg(),
    )


def capacity(s: MachineSample) -> tuple[Obj, Obj]:
    cap = {
        "cpu": str(s.cpus),
        "memory": f"{s.memory_total // 1024}Ki",
        "ephemeral-storage": f"{s.disk_total // 1024}Ki",
        "pods": "110",
    }
    alloc = dict(cap, memory=f"{max(0, s.memory_total - RESERVED_MEMORY) // 1024}Ki")
    return cap, alloc


def usage(s: MachineSample) -> Obj:
    """Skiff's extension `status.usage`: live use, which the scheduler's LoadAware reads."""
    used = s.memory_total - s.memory_available
    return {
        "cpuFraction": round(s.cpu_percent / 100.0, 4),
        "cpuPercent": round(s.cpu_percent, 1),
        "memoryFraction": round(used / s.memory_total, 4) if s.memory_total else 0.0,
        "memoryUsedBytes": used,
        "memoryAvailableBytes": s.memory_available,
        "load1": round(s.load[0], 2),
        "load5": round(s.load[1], 2),
        "load15": round(s.load[2], 2),
        "diskFreeBytes": s.disk_free,
        "diskTotalBytes": s.disk_total,
    }


def conditions(
    s: MachineSample, now: float, previous: list[Obj], limits_message: str, limits_enforced: bool
) -> list[Obj]:
    """Ready, MemoryPressure, DiskPressure and Skiff's ResourceLimits, keeping each
    condition's lastTransitionTime while its status does not change."""
    memory_low = s.memory_total > 0 and s.memory_available / s.memory_total < MEMORY_PRESSURE
    disk_low = s.disk_total > 0 and s.disk_free / s.disk_total < DISK_PRESSURE
    wanted = [
        ("Ready", "True", "KubeletReady", "skiff agent is posting ready status"),
        (
            "MemoryPressure",
            str(memory_low),
            "KubeletHasInsufficientMemory" if memory_low else "KubeletHasSufficientMemory",
            f"{s.memory_available // (1024 * 1024)} MiB available",
        ),
        (
            "DiskPressure",
            str(disk_low),
            "KubeletHasDiskPressure" if disk_low else "KubeletHasNoDiskPressure",
            f"{s.disk_free // (1024 * 1024)} MiB free",
        ),
        (
            "ResourceLimits",
            str(limits_enforced),
            "CgroupsAvailable" if limits_enforced else "CgroupsUnavailable",
            limits_message,
        ),
    ]
    before = {c.get("type"): c for c in previous}
    stamp = rfc3339(now)
    out = []
    for kind, status, reason, message in wanted:
        old = before.get(kind) or {}
        since = old.get("lastTransitionTime") if old.get("status") == status else stamp
        out.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": since or stamp,
            }
        )
    return out


def node_info(runtime_version: str) -> Obj:
    uname = platform.uname()
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot_id = ""
    return {
        "operatingSystem": "linux",
        "architecture": _arch(uname.machine),
        "kernelVersion": uname.release,
        "osImage": _os_image(),
        "bootID": boot_id,
        "kubeletVersion": f"skiff-{SKIFF_VERSION}",
        "containerRuntimeVersion": runtime_version,
        "pythonVersion": ".".join(str(x) for x in sys.version_info[:3]),
        "skiffVersion": SKIFF_VERSION,
        "hostname": socket.gethostname(),
    }


def _arch(machine: str) -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _os_image() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "Linux"
