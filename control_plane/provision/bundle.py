"""Each host's `/etc/skiff`, made on the controller as one tar (like `kubeadm init phase
certs/kubeconfig/control-plane` writing a master's files): the CA and the host's
certificates, the agent config and, on masters, the tokens, the store secret, the
components' client config and the static pod manifests.

Ansible copies one file per host and unpacks it when it changed (one SSH round trip
instead of a dozen per host); `skiff node join` sends the same tar.  The bootstrap
token an agent joins with is *not* in it: a joined agent keeps its own credential, and
join.yml gives new hosts fresh tokens.

Contract: the tar is byte-for-byte the same for the same inputs (sorted names, fixed
times and owners), and `write_bundle` rewrites it only when it differs, so a re-run
reports no change.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from control_plane.api import defaults
from control_plane.client.atomicfile import write_atomic
from control_plane.provision.assets import Assets, HostSpec

CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
ETC = defaults.ETC_DIR


@dataclass(frozen=True)
class Settings:
    install_dir: str = defaults.INSTALL_DIR
    version: str = ""
    build: str = ""
    api_port: int = defaults.API_PORT
    client_port: int = defaults.STORE_CLIENT_PORT
    peer_port: int = defaults.STORE_PEER_PORT
    lease_duration: float = defaults.LEASE_DURATION
    renew_deadline: float = defaults.RENEW_DEADLINE
    retry_period: float = defaults.RETRY_PERIOD
    taint_masters: bool = True
    heartbeat_seconds: float = defaults.PROVISIONED_HEARTBEAT_SECONDS

    @property
    def skiff(self) -> str:
        return f"{self.install_dir}/venv/bin/skiff"


def files_for(
    assets: Assets, host: HostSpec, masters: list[HostSpec], s: Settings
) -> dict[str, tuple[bytes, int]]:
    """`relative path under /etc/skiff -> (content, mode)` for `host`."""
    mine = assets.host_dir(host.name)
    servers = [f"https://{m.address}:{s.api_port}" for m in masters]
    files: dict[str, tuple[bytes, int]] = {
        "pki/ca.crt": (assets.ca.read_bytes(), 0o644),
        "pki/agent.crt": ((mine / "agent.crt").read_bytes(), 0o644),
        "pki/agent.key": ((mine / "agent.key").read_bytes(), 0o600),
        "agent.yaml": (_yaml(agent_config(host, servers, s)), 0o600),
        # A new build changes the bundle, so the agent restarts on the new code.
        "build": (f"{s.version} {s.build}\n".encode(), 0o644),
    }
    if host.role == "master":
        admin_token = (assets.root / "admin.token").read_text().strip()
        files |= {
            "pki/apiserver.crt": ((mine / "apiserver.crt").read_bytes(), 0o644),
            "pki/apiserver.key": ((mine / "apiserver.key").read_bytes(), 0o600),
            "admin.token": ((assets.root / "admin.token").read_bytes(), 0o600),
            "cluster-bootstrap.token": ((assets.root / "bootstrap.token").read_bytes(), 0o600),
            "store.secret": ((assets.root / "store.secret").read_bytes(), 0o600),
            "admin.conf": (_yaml(client_config(servers, f"{ETC}/pki/ca.crt", admin_token)), 0o600),
        }
        for name, args in control_plane_args(host, masters, s).items():
            files[f"manifests/{name}.yaml"] = (_yaml(static_pod(name, [s.skiff, *args], s)), 0o600)
    return files


def agent_config(host: HostSpec, servers: list[str], s: Settings) -> dict[str, Any]:
    master = host.role == "master"
    return {
        "nodeName": host.name,
        "address": host.address,
        "servers": servers,
        "certificateAuthority": f"{ETC}/pki/ca.crt",
        "bootstrapTokenFile": f"{ETC}/bootstrap.token",
        "credentialFile": "/var/lib/skiff/credential",
        "tlsCertFile": f"{ETC}/pki/agent.crt",
        "tlsKeyFile": f"{ETC}/pki/agent.key",
        "dataDir": "/var/lib/skiff",
        "manifestsDir": f"{ETC}/manifests",
        "role": "control-plane" if master else "worker",
        "taints": [CONTROL_PLANE_TAINT] if master and s.taint_masters else [],
        "heartbeatSeconds": s.heartbeat_seconds,
        "statusSeconds": s.heartbeat_seconds,
    }


def client_config(servers: list[str], ca: str, token: str) -> dict[str, Any]:
    """The CLI config format of `control_plane.client.config`."""
    return {
        "apiVersion": "skiff.io/v1",
        "kind": "Config",
        "servers": servers,
        "certificate-authority": ca,
        "token": token,
        "namespace": "default",
    }


@dataclass(frozen=True)
class Layout:
    """Where a master's files are: `/etc/skiff` and `/var/lib/skiff` on a real host; a
    directory per host for `skiff up` (control_plane/devtools/localcluster.py)."""

    etc: str = ETC
    data: str = "/var/lib/skiff"
    store_secret: str = f"{ETC}/store.secret"
    admin_token: str = f"{ETC}/admin.token"
    bootstrap_token: str = f"{ETC}/cluster-bootstrap.token"
    ca: str = f"{ETC}/pki/ca.crt"


def control_plane_args(
    host: HostSpec, masters: list[HostSpec], s: Settings, at: Layout | None = None
) -> dict[str, list[str]]:
    """The skiff arguments of each static pod of a master."""
    at = at or Layout()
    initial = ",".join(f"{m.name}={m.address}:{s.peer_port}" for m in masters)
    endpoints = ",".join(f"{m.address}:{s.client_port}" for m in masters)
    election = [
        "--leader-elect-lease-duration",
        f"{s.lease_duration:g}",
        "--leader-elect-renew-deadline",
        f"{s.renew_deadline:g}",
        "--leader-elect-retry-period",
        f"{s.retry_period:g}",
    ]
    return {
        "store": [
            "store",
            "run",
            "--name",
            host.name,
            "--data-dir",
            f"{at.data}/store",
            "--client-addr",
            f"{host.address}:{s.client_port}",
            "--peer-addr",
            f"{host.address}:{s.peer_port}",
            "--initial-cluster",
            initial,
            "--secret-file",
            at.store_secret,
        ],
        "apiserver": [
            "apiserver",
            "--store-endpoints",
            endpoints,
            "--listen",
            f"{host.address}:{s.api_port}",
            "--tls-cert-file",
            f"{at.etc}/pki/apiserver.crt",
            "--tls-private-key-file",
            f"{at.etc}/pki/apiserver.key",
            "--admin-token-file",
            at.admin_token,
            "--bootstrap-token-file",
            at.bootstrap_token,
            "--kubelet-certificate-authority",
            at.ca,
        ],
        "scheduler": ["--config", f"{at.etc}/admin.conf", "scheduler", "--identity", host.name, *election],
        "controller-manager": [
            "--config",
            f"{at.etc}/admin.conf",
            "controller-manager",
            "--identity",
            host.name,
            *election,
        ],
    }


def static_pod(name: str, argv: list[str], s: Settings | None = None) -> dict[str, Any]:
    """A control-plane static pod; with a build, the build is part of the manifest, so a
    new build restarts the pod (upgrade.yml)."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "kube-system",
        "labels": {"tier": "control-plane", "component": name},
    }
    if s is not None and (s.version or s.build):
        meta["annotations"] = {"skiff.io/version": s.version, "skiff.io/build": s.build}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [{"name": name, "image": "skiff", "command": argv}],
            "restartPolicy": "Always",
            "priorityClassName": "system-node-critical",
            "terminationGracePeriodSeconds": 10,
        },
    }


def pack(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A reproducible tar of `files` (directories 0700)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({str(Path(p).parent) for p in files} - {"."})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o700
            tar.addfile(info)
        for path in sorted(files):
            data, mode = files[path]
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def write_bundle(assets: Assets, host: HostSpec, masters: list[HostSpec], s: Settings) -> Path | None:
    """Write `hosts/<name>/etc-skiff.tar` if its content changed; returns it, or None."""
    path = assets.host_dir(host.name) / "etc-skiff.tar"
    data = pack(files_for(assets, host, masters, s))
    if path.exists() and path.read_bytes() == data:
        return None
    write_atomic(path, data, mode=0o600)
    return path


def _yaml(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False).encode()
