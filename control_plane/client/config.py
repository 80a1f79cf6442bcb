"""The CLI config (Skiff's kubeconfig): where the API servers are, the CA, a token.

File format (YAML), default `~/.skiff/config`, overridden by `SKIFF_CONFIG`, then by
`skiff --config FILE`:

    apiVersion: skiff.io/v1
    kind: Config
    servers: [https://127.0.1.1:6443, https://127.0.1.2:6443, https://127.0.1.3:6443]
    certificate-authority: pki/ca.crt      # relative to this file's directory
    token: abcdef.0123456789abcdef          # or token-file: admin.token
    namespace: default

The file holds a secret, so it is written with mode 0600.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from control_plane.client.apiclient import ApiClient
from control_plane.client.atomicfile import write_atomic
from control_plane.client.errors import ApiClientError

DEFAULT_PATH = Path("~/.skiff/config")


class ConfigError(ApiClientError):
    """The config file is missing or wrong; the message says which and how to fix it."""


@dataclass(frozen=True)
class ClientConfig:
    servers: list[str]
    token: str
    ca_file: Path | None
    namespace: str = "default"
    source: Path | None = None

    def client(self, timeout: float = 10.0, user_agent: str = "skiff", balance: bool = False) -> ApiClient:
        return ApiClient(self.servers, self.token, self.ca_file, timeout=timeout, user_agent=user_agent,
                         balance=balance)


def config_path(explicit: str | Path | None = None) -> Path:
    chosen = explicit or os.environ.get("SKIFF_CONFIG") or DEFAULT_PATH
    return Path(chosen).expanduser()


def load(explicit: str | Path | None = None) -> ClientConfig:
    """Read the config (see the module doc for where from); `ConfigError` if unusable."""
    path = config_path(explicit)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no Skiff config at {path}: create a cluster with `skiff up`, or pass "
                          "--config FILE / set SKIFF_CONFIG") from None
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read the Skiff config {path}: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with servers, certificate-authority and token")
    return _parse(data, path)


def _parse(data: dict[str, Any], path: Path) -> ClientConfig:
    servers = data.get("servers")
    if isinstance(servers, str):
        servers = [servers]
    if not isinstance(servers, list) or not servers or not all(isinstance(s, str) for s in servers):
        raise ConfigError(f"{path}: `servers` must be a list of https:// URLs")
    token = data.get("token")
    if token is None and data.get("token-file"):
        try:
            token = _relative(path, str(data["token-file"])).read_text().strip()
        except OSError as err:
            raise ConfigError(f"{path}: cannot read token-file: {err}") from None
    if not isinstance(token, str) or not token:
        raise ConfigError(f"{path}: a `token` (or `token-file`) is required")
    ca = data.get("certificate-authority")
    ca_file = _relative(path, str(ca)) if ca else None
    if ca_file is not None and not ca_file.is_file():
        raise ConfigError(f"{path}: certificate-authority {ca_file} does not exist")
    return ClientConfig(list(servers), token, ca_file, str(data.get("namespace") or "default"), path)


def _relative(config: Path, name: str) -> Path:
    p = Path(name).expanduser()
    return p if p.is_absolute() else config.parent / p


def write(path: Path, servers: list[str], ca_file: Path, token: str, namespace: str = "default") -> None:
    """Write a config file (mode 0600: it holds a token)."""
    body = {"apiVersion": "skiff.io/v1", "kind": "Config", "servers": servers,
            "certificate-authority": str(ca_file), "token": token, "namespace": namespace}
    write_atomic(path, yaml.safe_dump(body, sort_keys=False), mode=0o600)
