"""A whole cluster on one machine, no root needed (`skiff up` / `skiff down`).

Every host is a directory tree (`DIR/hosts/<name>/{etc,var/lib,var/log}/skiff`) with
its own loopback address (127.0.1.N: all of 127.0.0.0/8 is local on Linux), so each
keeps the default ports.  Each host runs `skiff agent`; masters also get the static
pod manifests for the store member, API server, scheduler and controller manager,
which their agents run and mirror into `kube-system`.  `DIR/config` is the admin's
client config.

Processes: only the agents are started here (pidfile per host); everything else is a
pod of some agent.  `down` stops the agents by pidfile, then every container of every
host through that host's runtime state (pidfile + start time), so nothing is left.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from control_plane.api import defaults
from control_plane.apiserver.authn import new_token
from control_plane.client.config import write as write_client_config
from control_plane.devtools import procs
from control_plane.provision.assets import HostSpec
from control_plane.provision.bundle import (
    CONTROL_PLANE_TAINT,
    Layout,
    Settings,
    control_plane_args,
    static_pod,
)
from control_plane.provision.pki import create_ca, issue_server_cert
from raftstore.config import write_secret

SKIFF = [sys.executable, "-m", "control_plane.cli.main"]
# Quick failover of the scheduler and controller manager on one machine (seconds).
FAST_ELECTION = Settings(lease_duration=4, renew_deadline=3, retry_period=0.5)


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    role: str  # control-plane | worker


class LocalCluster:
    def __init__(self, root: Path, masters: int = 3, nodes: int = 2, subnet: str = "127.0.1") -> None:
        self.root = root.resolve()
        self.hosts = [Host(f"m{i + 1}", f"{subnet}.{i + 1}", "control-plane") for i in range(masters)]
        self.hosts += [Host(f"w{i + 1}", f"{subnet}.{masters + i + 1}", "worker") for i in range(nodes)]
        self.pki = self.root / "pki"
        self.config_file = self.root / "config"

    @property
    def masters(self) -> list[Host]:
        return [h for h in self.hosts if h.role == "control-plane"]

    def home(self, host: Host) -> Path:
        return self.root / "hosts" / host.name

    def agent_pidfile(self, host: Host) -> Path:
        return self.home(host) / "var/run/agent.pid"

    def agent_log(self, host: Host) -> Path:
        return self.home(host) / "var/log/skiff/agent.log"

    def discover(self) -> None:
        """Take the hosts from an existing cluster directory (for `down` and `status`)."""
        saved = self.root / "hosts.yaml"
        if saved.exists():
            self.hosts = [Host(**h) for h in yaml.safe_load(saved.read_text())]

    def running(self) -> list[str]:
        return [h.name for h in self.hosts if procs.read(self.agent_pidfile(h)) is not None]

    # ---- creating --------------------------------------------------------------------
    def create(self) -> None:
        """PKI, tokens, secrets, the client config, manifests and agent configs (kept
        when they exist, so `up` after `down` restarts the same cluster)."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "hosts.yaml").write_text(yaml.safe_dump([h.__dict__ for h in self.hosts]))
        ca, _ = create_ca(self.pki)
        admin = self._token("admin.token")
        bootstrap = self._token("bootstrap.token")
        if not (self.root / "store.secret").exists():
            write_secret(self.root / "store.secret")
        urls = [f"https://{m.address}:{defaults.API_PORT}" for m in self.masters]
        write_client_config(self.config_file, urls, ca, admin.read_text().strip())
        single = len(self.hosts) == 1
        for host in self.hosts:
            home = self.home(host)
            for sub in ("etc/skiff/manifests", "var/lib/skiff", "var/log/skiff", "var/run"):
                (home / sub).mkdir(parents=True, exist_ok=True)
            cert, key = issue_server_cert(
                self.pki, home / "etc/skiff/pki", f"agent-{host.name}", [host.address]
            )
            if host.role == "control-plane":
                self._manifests(host, ca, admin, bootstrap)
            taints = [CONTROL_PLANE_TAINT] if host.role == "control-plane" and not single else []
            agent = {
                "nodeName": host.name,
                "address": host.address,
                "servers": urls,
                "certificateAuthority": str(ca),
                "bootstrapTokenFile": str(bootstrap),
                "credentialFile": str(home / "var/lib/skiff/credential"),
                "tlsCertFile": str(cert),
                "tlsKeyFile": str(key),
                "dataDir": str(home / "var/lib/skiff"),
                "manifestsDir": str(home / "etc/skiff/manifests"),
                "role": host.role,
                "taints": taints,
                "heartbeatSeconds": 5,
                "statusSeconds": 5,
                "backoffSeconds": 1,
                "maxBackoffSeconds": 20,
            }
            (home / "etc/skiff/agent.yaml").write_text(yaml.safe_dump(agent, sort_keys=False))

    def _token(self, name: str) -> Path:
        path = self.root / name
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(new_token() + "\n")
        return path

    def _manifests(self, host: Host, ca: Path, admin: Path, bootstrap: Path) -> None:
        home = self.home(host)
        etc = home / "etc/skiff"
        issue_server_cert(self.pki, etc / "pki", "apiserver", [host.address, "localhost"])
        component_config = etc / "admin.conf"
        shutil.copyfile(self.config_file, component_config)
        component_config.chmod(0o600)
        layout = Layout(
            etc=str(etc),
            data=str(home / "var/lib/skiff"),
            store_secret=str(self.root / "store.secret"),
            admin_token=str(admin),
            bootstrap_token=str(bootstrap),
            ca=str(ca),
        )
        masters = [HostSpec(m.name, m.address, "master") for m in self.masters]
        pods = control_plane_args(HostSpec(host.name, host.address, "master"), masters, FAST_ELECTION, layout)
        for name, args in pods.items():
            manifest = static_pod(name, [*SKIFF, *args])
            (etc / "manifests" / f"{name}.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))

    # ---- running ---------------------------------------------------------------------
    def start(self) -> None:
        for host in self.hosts:
            if procs.read(self.agent_pidfile(host)) is None:
                procs.start(
                    [*SKIFF, "agent", "--config", str(self.home(host) / "etc/skiff/agent.yaml")],
                    self.agent_pidfile(host),
                    self.agent_log(host),
                )

    def down(self, progress: Callable[[str], None] = lambda _: None) -> int:
        """Stop every agent, then every container of every host; returns how many
        processes were stopped.  Containers are stopped in parallel (each may use its
        grace period), so `down` takes about one grace period, not one per container."""
        from node_agent.teardown import stop_containers

        stopped = 0
        for host in self.hosts:
            if procs.read(self.agent_pidfile(host)) is not None:
                progress(f"stopping the agent of {host.name}")
                procs.stop(self.agent_pidfile(host))
                stopped += 1
        runtimes = {h.name: self.home(h) / "var/lib/skiff/containers" for h in self.hosts}
        return stopped + stop_containers(runtimes, grace=10, progress=progress)
