"""A lab: hosts as network namespaces on a bridge, each with its own sshd, hostname and
private directories; an Ansible inventory and an ssh config to reach them.

Contract:
- `up` refuses a lab name that exists (state file, namespace or bridge); on failure
  half-way it tears down what it made.
- Hosts get addresses in `subnet` (`.1`, `.2`, ...); the bridge, in the root namespace,
  gets the last usable one, so Ansible and ssh run from here.  No default route: no
  traffic can leave the machine.
- `down` stops every process in each host's namespace by PID (`ip netns pids`), then
  deletes namespaces, links, the state directory and the mount points it created; it
  is idempotent and leaves nothing.
- Names: a lab name is 1-6 of [a-z0-9] (Linux interface names are at most 15
  characters: `skb<name>` for the bridge, `skv<name><n>` for the veths).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from control_plane.devtools import procs
from control_plane.devtools.lab import netns, sshd
from control_plane.devtools.lab.netns import LabError

LAB_ROOT = Path("/var/lib/skiff-lab")
NAME = re.compile(r"^[a-z0-9]{1,6}$")


@dataclass(frozen=True)
class LabHost:
    name: str
    role: str  # master | node
    address: str
    index: int


class Lab:
    def __init__(self, name: str, root: Path = LAB_ROOT) -> None:
        if not NAME.match(name):
            raise LabError(f"lab name {name!r}: 1 to 6 of a-z, 0-9 (it goes into interface names)")
        self.name = name
        self.dir = root / name
        self.bridge = f"skb{name}"
        self.hosts: list[LabHost] = []
        self.subnet = ""
        self.created_dirs: list[str] = []  # mount points on the machine that the lab made
        if self.state_file.exists():
            state = json.loads(self.state_file.read_text())
            self.subnet = state["subnet"]
            self.hosts = [LabHost(**h) for h in state["hosts"]]
            self.created_dirs = list(state.get("created_dirs") or [])

    @property
    def state_file(self) -> Path:
        return self.dir / "lab.json"

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yaml"

    @property
    def ssh_config(self) -> Path:
        return self.dir / "ssh_config"

    def ns(self, host: LabHost) -> str:
        return f"skiff-{self.name}-{host.name}"

    def home(self, host: LabHost) -> Path:
        return self.dir / "hosts" / host.name

    # ---- up ----------------------------------------------------------------------------
    def up(self, masters: int, nodes: int, subnet: str) -> None:
        _require_root()
        if self.state_file.exists() or self.bridge in netns.links():
            raise LabError(f"a lab named {self.name!r} exists; `skiff lab down --name {self.name}` first")
        net = ipaddress.ip_network(subnet, strict=True)
        usable = list(net.hosts())
        if len(usable) < masters + nodes + 1:
            raise LabError(f"subnet {subnet} is too small for {masters + nodes} hosts")
        self.subnet = subnet
        roles = [("master", f"m{i + 1}") for i in range(masters)] + [
            ("node", f"n{i + 1}") for i in range(nodes)
        ]
        self.hosts = [LabHost(name, role, str(usable[i]), i) for i, (role, name) in enumerate(roles)]
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.created_dirs = [t for t in sshd.PRIVATE_DIRS.values() if not Path(t).exists()]
        self._save()
        try:
            netns.create_bridge(self.bridge, f"{usable[-1]}/{net.prefixlen}")
            sshd.keygen(self.dir / "lab_key", f"skiff-lab-{self.name}")
            for host in self.hosts:
                self._add_host(host, net.prefixlen)
            self._write_client_files()
            self._wait_sshd()
        except BaseException:
            self.down()
            raise

    def add(self, role: str) -> LabHost:
        """One more host (e.g. to join it later)."""
        _require_root()
        if not self.hosts:
            raise LabError(f"no lab named {self.name!r}")
        net = ipaddress.ip_network(self.subnet)
        used = {h.address for h in self.hosts}
        address = next(str(a) for a in list(net.hosts())[:-1] if str(a) not in used)
        prefix = "m" if role == "master" else "n"
        number = 1 + sum(1 for h in self.hosts if h.role == role)
        host = LabHost(f"{prefix}{number}", role, address, max(h.index for h in self.hosts) + 1)
        self.hosts.append(host)
        self._save()
        self._add_host(host, net.prefixlen)
        self._write_client_files()
        self._wait_sshd([host])
        return host

    def _add_host(self, host: LabHost, prefixlen: int) -> None:
        home = self.home(host)
        for sub in sshd.PRIVATE_DIRS:
            (home / sub).mkdir(parents=True, exist_ok=True)
        (home / "root/.ssh").mkdir(parents=True, exist_ok=True)
        pub = (self.dir / "lab_key.pub").read_text()
        (home / "root/.ssh/authorized_keys").write_text(pub)
        sshd.keygen(home / "ssh_host_ed25519_key", f"{host.name}.{self.name}.lab")
        (home / "sshd_config").write_text(sshd.config(home, host.address))
        netns.create_host_link(
            self.ns(host),
            self.bridge,
            f"skv{self.name}{host.index}",
            f"skp{self.name}{host.index}",
            f"{host.address}/{prefixlen}",
        )
        procs.start(sshd.command(self.ns(host), host.name, home), home / "sshd.pid", home / "sshd.log")

    def _write_client_files(self) -> None:
        known = [
            f"{h.address} {(self.home(h) / 'ssh_host_ed25519_key.pub').read_text().split(' ')[0]} "
            f"{(self.home(h) / 'ssh_host_ed25519_key.pub').read_text().split(' ')[1]}"
            for h in self.hosts
        ]
        (self.dir / "known_hosts").write_text("\n".join(known) + "\n")
        blocks = []
        for h in self.hosts:
            blocks.append(
                "\n".join(
                    [
                        f"Host {h.name} {h.address}",
                        f"  HostName {h.address}",
                        "  User root",
                        f"  IdentityFile {self.dir / 'lab_key'}",
                        "  IdentitiesOnly yes",
                        f"  UserKnownHostsFile {self.dir / 'known_hosts'}",
                        "  StrictHostKeyChecking yes",
                        "  ServerAliveInterval 5",
                        "  ServerAliveCountMax 3",
                        "  ConnectTimeout 10",
                        "",
                    ]
                )
            )
        self.ssh_config.write_text("\n".join(blocks))
        common = f"-F {self.ssh_config} -o ServerAliveInterval=5 -o ServerAliveCountMax=3"
        group = {
            "masters": [h for h in self.hosts if h.role == "master"],
            "nodes": [h for h in self.hosts if h.role == "node"],
        }
        inventory: dict[str, Any] = {
            "all": {
                "vars": {
                    "ansible_user": "root",
                    "ansible_python_interpreter": "/usr/bin/python3",
                    "ansible_ssh_private_key_file": str(self.dir / "lab_key"),
                    "ansible_ssh_common_args": common,
                },
                "children": {
                    g: {"hosts": {h.name: {"ansible_host": h.address} for h in hs}} for g, hs in group.items()
                },
            }
        }
        self.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False))

    def _wait_sshd(self, hosts: list[LabHost] | None = None) -> None:
        import socket

        for host in hosts or self.hosts:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with socket.create_connection((host.address, 22), timeout=1):
                        break
                except OSError as err:
                    if time.monotonic() > deadline:
                        log = self.home(host) / "sshd.log"
                        tail = log.read_text()[-500:] if log.exists() else ""
                        raise LabError(f"sshd of {host.name} did not start: {err}; {tail}") from None
                    time.sleep(0.1)

    def _save(self) -> None:
        self.state_file.write_text(
            json.dumps(
                {
                    "name": self.name,
                    "subnet": self.subnet,
                    "hosts": [asdict(h) for h in self.hosts],
                    "created_dirs": self.created_dirs,
                },
                indent=2,
            )
        )

    # ---- status, chaos, down ---------------------------------------------------------
    def status(self) -> dict[str, Any]:
        if not self.state_file.exists():
            raise LabError(f"no lab named {self.name!r}")
        return {
            "name": self.name,
            "subnet": self.subnet,
            "hosts": [
                {
                    "name": h.name,
                    "role": h.role,
                    "address": h.address,
                    "namespace": self.ns(h),
                    "sshd": procs.read(self.home(h) / "sshd.pid") is not None,
                }
                for h in self.hosts
            ],
            "inventory": str(self.inventory.resolve()),
            "ssh_config": str(self.ssh_config.resolve()),
        }

    def host(self, name: str) -> LabHost:
        for h in self.hosts:
            if h.name == name:
                return h
        raise LabError(
            f"lab {self.name!r} has no host {name!r} (hosts: {', '.join(h.name for h in self.hosts)})"
        )

    def partition(self, name: str, peers: list[str] | None = None) -> list[str]:
        """Cut host `name` off from `peers` (default: every other host); returns them."""
        _require_root()
        host = self.host(name)
        others = [self.host(p) for p in peers] if peers else [h for h in self.hosts if h != host]
        netns.block(self.ns(host), [h.address for h in others])
        return [h.name for h in others]

    def heal(self) -> None:
        _require_root()
        for h in self.hosts:
            netns.heal(self.ns(h))

    def down(self) -> int:
        """Stop everything, remove everything; returns how many processes were stopped.
        A host that fails to go does not stop the others; the state is kept (so `down`
        can be run again) and the failures are raised together at the end."""
        _require_root()
        stopped = 0
        errors: list[str] = []
        for host in self.hosts:
            try:
                stopped += self._remove_host(host)
            except LabError as err:
                errors.append(f"{host.name}: {err}")
        try:
            netns.delete_link_if_exists(self.bridge)
        except LabError as err:
            errors.append(str(err))
        if errors:
            raise LabError("lab down left things behind (run it again): " + "; ".join(errors))
        if self.dir.exists():
            shutil.rmtree(self.dir)
        for target in self.created_dirs:  # empty mount points this lab made, if no lab uses them
            if not labs(self.dir.parent):
                with contextlib.suppress(OSError):
                    Path(target).rmdir()
        return stopped

    def _remove_host(self, host: LabHost) -> int:
        ns = self.ns(host)
        found = len(netns.pids(ns)) if ns in netns.namespaces() else 0
        procs.stop(self.home(host) / "sshd.pid", timeout=5)
        _stop_namespace(ns)
        netns.delete_namespace_if_exists(ns)
        netns.delete_link_if_exists(f"skv{self.name}{host.index}")
        return found


def _stop_namespace(ns: str) -> int:
    """SIGTERM every process in `ns`, then SIGKILL what is left after 5 s."""
    found = netns.pids(ns) if ns in netns.namespaces() else []
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        for pid in netns.pids(ns) if found else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while found and netns.pids(ns) and time.monotonic() < deadline:
            time.sleep(0.1)
    return len(found)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("lab hosts need root (network namespaces, bridges, mounts); run as root")


def labs(root: Path = LAB_ROOT) -> list[str]:
    return sorted(p.name for p in root.iterdir() if (p / "lab.json").exists()) if root.exists() else []
