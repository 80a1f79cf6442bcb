"""Faults on hosts reached over SSH (paramiko): a lab's hosts or real machines, from an
Ansible inventory (the one `site.yml` built the cluster with).

Each action runs `skiff chaos host ACTION` on the host (`hostops.py`: the same code a
local cluster uses), as the inventory's `ansible_user` with its
`ansible_ssh_private_key_file`; host keys are checked against `known_hosts` (a lab
writes its own).  Partitions install nft rules inside the host, against the other
masters' addresses only, so the controller keeps reaching it to heal it.
"""

from __future__ import annotations

import json
import shlex
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from control_plane.api import defaults
from control_plane.devtools.chaos.hostops import HostFaultError
from control_plane.provision.errors import RemoteError
from control_plane.provision.remote import Remote

DEFAULT_SKIFF = "/opt/skiff/venv/bin/skiff"


@dataclass(frozen=True)
class InventoryHost:
    name: str
    address: str
    role: str  # master | node


@dataclass(frozen=True)
class Inventory:
    path: Path
    hosts: list[InventoryHost]
    variables: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> Inventory:
        """Groups `masters` and `nodes` (under `all.children` or at the top), each host's
        `ansible_host` (default: its name), and `all.vars`.  Raises ValueError when
        the file is not such an inventory."""
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as err:
            raise ValueError(f"cannot read the inventory {path}: {err}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: not a YAML inventory (a mapping of groups)")
        found = data.get("all")
        top: dict[str, Any] = found if isinstance(found, dict) else {}
        groups = {**data, **(top.get("children") or {})}
        hosts: list[InventoryHost] = []
        for group, role in (("masters", "master"), ("nodes", "node")):
            members = (groups.get(group) or {}).get("hosts") or {}
            for name, hostvars in members.items():
                address = (hostvars or {}).get("ansible_host", name)
                hosts.append(InventoryHost(str(name), str(address), role))
        if not any(h.role == "master" for h in hosts):
            raise ValueError(f"{path}: no host in the group `masters`")
        return cls(path, hosts, dict(top.get("vars") or {}))


class SshTarget:
    can_partition = True

    def __init__(self, inventory: Path, known_hosts: list[Path], admin_config: Path | None = None,
                 ssh_key: Path | None = None, skiff_bin: str | None = None) -> None:
        self.inventory = Inventory.read(inventory)
        self.by_name = {h.name: h for h in self.inventory.hosts}
        v = self.inventory.variables
        key = ssh_key or v.get("ansible_ssh_private_key_file")
        if not key:
            raise ValueError("no SSH key: pass --ssh-key or set ansible_ssh_private_key_file "
                             "in the inventory")
        self.key, self.user = Path(str(key)), str(v.get("ansible_user", "root"))
        self.known_hosts = known_hosts
        self.skiff = skiff_bin or (f"{v['skiff_install_dir']}/venv/bin/skiff" if "skiff_install_dir" in v
                                   else DEFAULT_SKIFF)
        self.config = admin_config or inventory.parent / "skiff-assets/admin.conf"

    def masters(self) -> list[str]:
        return [h.name for h in self.inventory.hosts if h.role == "master"]

    def workers(self) -> list[str]:
        return [h.name for h in self.inventory.hosts if h.role == "node"]

    def store_endpoints(self) -> dict[str, str]:
        port = defaults.STORE_CLIENT_PORT
        return {h.name: f"{h.address}:{port}" for h in self.inventory.hosts if h.role == "master"}

    def admin_config(self) -> Path:
        return self.config

    def host(self, name: str, *args: str, timeout: float = 60.0) -> str:
        """Run `skiff chaos host ARGS` on host `name`; its stdout.  HostFaultError on failure."""
        target = self.by_name[name]
        try:
            with Remote(target.address, self.key, user=self.user, known_hosts=self.known_hosts) as remote:
                _, out, _ = remote.run(shlex.join([self.skiff, "chaos", "host", *args]), timeout=timeout)
        except RemoteError as err:
            raise HostFaultError(str(err)) from None
        return out

    def kill(self, host: str) -> None:
        self.host(host, "kill")

    def stop(self, host: str) -> None:
        self.host(host, "stop")

    def start(self, host: str) -> None:
        self.host(host, "start")

    def pause(self, host: str) -> None:
        self.host(host, "pause")

    def resume(self, host: str) -> None:
        self.host(host, "resume")

    def kill_agent(self, host: str) -> None:
        self.host(host, "kill-agent")

    def isolate(self, host: str, peers: list[str]) -> None:
        self.host(host, "isolate", "--peers", ",".join(self.by_name[p].address for p in peers))

    def reconnect(self, host: str) -> None:
        self.host(host, "reconnect")

    def running_pods(self) -> dict[str, list[str]]:
        """Pod UID -> hosts running it; a host that does not answer (one taken out of
        the cluster, say) runs nothing the cluster counts on, and is left out."""
        def pods(name: str) -> list[str]:
            try:
                return list(json.loads(self.host(name, "pods")))
            except (HostFaultError, ValueError):
                return []

        names = [h.name for h in self.inventory.hosts]
        found: dict[str, list[str]] = {}
        with ThreadPoolExecutor(8) as pool:  # one SSH round trip per host, all at once
            for name, uids in zip(names, pool.map(pods, names), strict=True):
                for uid in uids:
                    found.setdefault(uid, []).append(name)
        return found
