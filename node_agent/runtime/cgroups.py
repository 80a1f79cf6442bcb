"""Which cgroups this host lets the runtime use, found once at start-up.

- cgroup v2: a `cgroup2` mount whose `cgroup.controllers` lists `memory` and/or `cpu`.
  The runtime makes `<mount>/<parent>/`, enables those controllers in the subtree of the
  mount root and of the parent, and puts containers at `<mount>/<parent>/<uid>-<name>`.
- cgroup v1: `cgroup` mounts whose options include `memory` and/or `cpu` (separately or
  co-mounted, e.g. `cpu,cpuacct`).  Containers get `<hierarchy>/<parent>/<uid>-<name>` in
  each.  A hybrid host (v1 controllers plus an empty v2 at `/sys/fs/cgroup/unified`, as
  on the lab machines) is v1: its cgroup2 mount has no controllers.

The parent is made under the *root* of each hierarchy, not under the agent's own cgroup:
on v2 only the root may hold processes and delegate controllers at once, and on v1 it
keeps containers out of whatever the agent's supervisor accounts the agent in.

Nothing is pretended: a controller that cannot be used (not mounted, not root,
permission denied, controllers not delegable) is reported as not enforced in
`Capabilities`, with the reason, and containers run without that limit.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from node_agent.runtime.base import Capabilities
from node_agent.runtime.container_cgroup import ContainerCgroup, Version

MOUNTINFO = Path("/proc/self/mountinfo")
DEFAULT_PARENT = "skiff"


@dataclass(frozen=True)
class Mount:
    """One line of /proc/self/mountinfo, the parts that matter here."""

    mount_point: Path
    fstype: str
    super_options: frozenset[str]


def parse_mountinfo(text: str) -> list[Mount]:
    """Parse mountinfo (proc(5)): `... mount_point opts [optional...] - fstype source super_opts`."""
    mounts = []
    for line in text.splitlines():
        parts = line.split()
        if "-" not in parts or len(parts) < 5:
            continue
        sep = parts.index("-")
        if len(parts) < sep + 4:
            continue
        # Spaces and the like in paths are octal-escaped (\040).
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), parts[4])
        mounts.append(Mount(Path(point), parts[sep + 1], frozenset(parts[sep + 3].split(","))))
    return mounts


@dataclass(frozen=True)
class CgroupDriver:
    """Makes per-container cgroups under the Skiff parent directories that were found
    usable.  Immutable; `for_container` is pure (it creates nothing)."""

    version: Version
    memory_parent: Path | None
    cpu_parent: Path | None

    def for_container(self, pod_uid: str, name: str) -> ContainerCgroup:
        leaf = f"{pod_uid}-{name}"
        mem = None if self.memory_parent is None else self.memory_parent / leaf
        cpu = None if self.cpu_parent is None else self.cpu_parent / leaf
        dirs = tuple(dict.fromkeys(d for d in (mem, cpu) if d is not None))  # v2: one dir
        return ContainerCgroup(self.version, dirs, mem, cpu)


def detect(mountinfo: Path = MOUNTINFO, parent: str = DEFAULT_PARENT) -> tuple[CgroupDriver | None,
                                                                              Capabilities]:
    """Find the usable hierarchies and prepare the Skiff parent cgroups in them.

    Side effects: creates `<parent>` directories and, on v2, enables controllers in
    `cgroup.subtree_control` of the mount root and the parent (as kubelet does).
    Returns (None, capabilities saying why) when nothing can be used.  `parent` is a
    relative path (`skiff`, or `skiff/node-1` when several agents share one machine).
    """
    if Path(parent).is_absolute() or ".." in Path(parent).parts or not Path(parent).parts:
        raise ValueError(f"cgroup parent {parent!r} must be a relative path inside the hierarchy")
    try:
        mounts = parse_mountinfo(mountinfo.read_text())
    except OSError as e:
        return None, _none(f"cannot read {mountinfo}: {e.strerror or e}")
    for m in mounts:
        if m.fstype == "cgroup2" and _v2_controllers(m.mount_point) & {"memory", "cpu"}:
            return _probe_v2(m.mount_point, parent)
    v1 = _v1_mounts(mounts)
    if v1:
        return _probe_v1(v1, parent)
    return None, _none("no cgroup v2 hierarchy with memory/cpu controllers and no cgroup v1 "
                       "memory or cpu hierarchy is mounted")


def _none(why: str) -> Capabilities:
    return Capabilities(cgroups=None, memory_limits=False, cpu_limits=False,
                        message=f"memory and cpu limits are not enforced: {why}")


def _v2_controllers(mount: Path) -> set[str]:
    try:
        return set((mount / "cgroup.controllers").read_text().split())
    except OSError:
        return set()


def _v1_mounts(mounts: list[Mount]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for m in mounts:
        if m.fstype != "cgroup":
            continue
        for ctrl in ("memory", "cpu"):
            if ctrl in m.super_options and ctrl not in found:
                found[ctrl] = m.mount_point
    return found


def _mkdir(path: Path) -> str | None:
    """Create `path` (and missing parents); the reason it could not be created, or None."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        who = "" if os.geteuid() == 0 else f" (the agent runs as uid {os.geteuid()}, not root)"
        return f"cannot create {path}: {e.strerror or e}{who}"
    return None


def _enable(cgroup: Path, controllers: set[str]) -> str | None:
    """Enable `controllers` for the children of `cgroup`; the reason it failed, or None."""
    control = cgroup / "cgroup.subtree_control"
    for ctrl in sorted(controllers):
        try:
            if ctrl not in control.read_text().split():
                control.write_text(f"+{ctrl}")
        except OSError as e:
            return f"cannot enable {ctrl} in {control}: {e.strerror or e}"
    return None


def _probe_v2(mount: Path, parent: str) -> tuple[CgroupDriver | None, Capabilities]:
    wanted = _v2_controllers(mount) & {"memory", "cpu"}
    top = mount / parent
    # Controllers must be enabled at every level from the root down to the parent.
    levels = [mount] + [mount / p for p in reversed(Path(parent).parents[:-1])] + [top]
    why = _mkdir(top)
    for level in levels:
        if why is not None:
            break
        why = _enable(level, wanted)
    if why is not None:
        return None, _none(f"cgroup v2 at {mount}: {why}")
    mem, cpu = "memory" in wanted, "cpu" in wanted
    driver = CgroupDriver("v2", top if mem else None, top if cpu else None)
    missing = {c: f"the {c} controller is not available at {mount}" for c in ("memory", "cpu")
               if c not in wanted}
    return driver, _capabilities("v2", {"memory": top} if mem else {}, {"cpu": top} if cpu else {},
                                 missing)


def _probe_v1(mounts: dict[str, Path], parent: str) -> tuple[CgroupDriver | None, Capabilities]:
    usable: dict[str, Path] = {}
    unusable = {c: "no cgroup v1 hierarchy with this controller is mounted"
                for c in ("memory", "cpu") if c not in mounts}
    for ctrl, mount in mounts.items():
        why = _mkdir(mount / parent)
        if why is None:
            usable[ctrl] = mount / parent
        else:
            unusable[ctrl] = why
    if not usable:
        return None, _none("cgroup v1: " + "; ".join(f"{c}: {w}" for c, w in sorted(unusable.items())))
    driver = CgroupDriver("v1", usable.get("memory"), usable.get("cpu"))
    mem = {"memory": usable["memory"]} if "memory" in usable else {}
    cpu = {"cpu": usable["cpu"]} if "cpu" in usable else {}
    return driver, _capabilities("v1", mem, cpu, unusable)


def _capabilities(version: Version, mem: dict[str, Path], cpu: dict[str, Path],
                  unusable: dict[str, str]) -> Capabilities:
    used = {**mem, **cpu}
    parts = [f"cgroup {version}: " + ", ".join(f"{c} limits enforced ({p})" for c, p in used.items())]
    parts += [f"{c} limits not enforced: {why}" for c, why in sorted(unusable.items())]
    return Capabilities(cgroups=version, memory_limits=bool(mem), cpu_limits=bool(cpu),
                        message="; ".join(parts))
