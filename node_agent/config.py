"""The agent's configuration file (YAML), e.g. `/etc/skiff/agent.yaml`:

    nodeName: w1
    address: 127.0.1.4            # where the agent listens, and the node's InternalIP
    port: 10250                   # the agent's HTTPS port (logs)
    servers: [https://127.0.1.1:6443, https://127.0.1.2:6443, https://127.0.1.3:6443]
    certificateAuthority: /etc/skiff/pki/ca.crt
    bootstrapTokenFile: /etc/skiff/bootstrap.token   # used once, to obtain the credential
    credentialFile: /var/lib/skiff/agent/credential  # written 0600 after joining
    tlsCertFile: /etc/skiff/pki/agent.crt           # the agent's serving certificate
    tlsKeyFile: /etc/skiff/pki/agent.key
    dataDir: /var/lib/skiff/agent
    manifestsDir: /etc/skiff/manifests               # static pods (masters)
    role: worker                  # or control-plane
    labels: {}
    taints: []                    # e.g. [{key: k, value: v, effect: NoSchedule}]
    heartbeatSeconds: 10
    statusSeconds: 10
    backoffSeconds: 10            # crash-loop back-off, doubling up to maxBackoffSeconds
    maxBackoffSeconds: 300

Relative paths are relative to the file's directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from control_plane.api import defaults


class ConfigError(Exception):
    """The agent config is missing or wrong; the message says which field and why."""


@dataclass(frozen=True)
class AgentConfig:
    node_name: str
    address: str
    servers: list[str]
    ca_file: Path
    data_dir: Path
    credential_file: Path
    port: int = defaults.AGENT_PORT
    bootstrap_token_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    manifests_dir: Path | None = None
    role: str = "worker"
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)
    heartbeat_seconds: float = defaults.HEARTBEAT_SECONDS
    status_seconds: float = 10.0
    backoff_seconds: float = 10.0  # crash-loop back-off: first delay, doubling...
    max_backoff_seconds: float = 300.0  # ...up to this (Kubernetes: 10 s and 300 s)
    source: Path | None = None

    @property
    def runtime_dir(self) -> Path:
        return self.data_dir / "containers"


def load(path: Path) -> AgentConfig:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError(f"cannot read the agent config {path}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping")
    return parse(data, path)


def parse(data: dict[str, Any], path: Path) -> AgentConfig:
    def req(key: str) -> Any:
        if data.get(key) in (None, ""):
            raise ConfigError(f"{path}: `{key}` is required")
        return data[key]

    def p(value: Any) -> Path:
        q = Path(str(value)).expanduser()
        return q if q.is_absolute() else path.parent / q

    def opt(key: str) -> Path | None:
        return p(data[key]) if data.get(key) else None

    servers = req("servers")
    if isinstance(servers, str):
        servers = [servers]
    if not isinstance(servers, list) or not all(isinstance(s, str) for s in servers):
        raise ConfigError(f"{path}: `servers` must be a list of https:// URLs")
    data_dir = p(req("dataDir"))
    taints = data.get("taints") or []
    if not isinstance(taints, list) or not all(isinstance(t, dict) and t.get("key") for t in taints):
        raise ConfigError(f"{path}: `taints` must be a list of {{key, value, effect}}")
    try:
        return AgentConfig(
            node_name=str(req("nodeName")),
            address=str(req("address")),
            servers=list(servers),
            ca_file=p(req("certificateAuthority")),
            data_dir=data_dir,
            credential_file=opt("credentialFile") or data_dir / "credential",
            port=int(data.get("port") or defaults.AGENT_PORT),
            bootstrap_token_file=opt("bootstrapTokenFile"),
            tls_cert_file=opt("tlsCertFile"),
            tls_key_file=opt("tlsKeyFile"),
            manifests_dir=opt("manifestsDir"),
            role=str(data.get("role") or "worker"),
            labels={str(k): str(v) for k, v in (data.get("labels") or {}).items()},
            taints=[{str(k): str(v) for k, v in t.items()} for t in taints],
            heartbeat_seconds=float(data.get("heartbeatSeconds") or defaults.HEARTBEAT_SECONDS),
            status_seconds=float(data.get("statusSeconds") or 10),
            backoff_seconds=float(data.get("backoffSeconds") or 10),
            max_backoff_seconds=float(data.get("maxBackoffSeconds") or 300),
            source=path,
        )
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path}: {err}") from None


def write(path: Path, cfg: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
