"""Joining: turn a bootstrap token into this node's own credential, once.

Contract: if the credential file exists it is used and the bootstrap token is never
sent again (it may have expired).  Otherwise the bootstrap token is exchanged at
`POST /apis/skiff.io/v1/nodecredentials` and the credential is written with mode 0600
(atomically) before it is used.
"""

from __future__ import annotations

from pathlib import Path

from control_plane.client.apiclient import ApiClient
from control_plane.client.atomicfile import write_atomic
from node_agent.config import AgentConfig, ConfigError

CREDENTIALS = "/apis/skiff.io/v1/nodecredentials"


def credential(cfg: AgentConfig) -> str:
    """This node's token: from disk, or obtained now with the bootstrap token."""
    if cfg.credential_file.exists():
        return _read_secret(cfg.credential_file)
    if cfg.bootstrap_token_file is None:
        raise ConfigError(f"no credential at {cfg.credential_file} and no bootstrapTokenFile to join with")
    bootstrap = _read_secret(cfg.bootstrap_token_file)
    with ApiClient(cfg.servers, bootstrap, cfg.ca_file, timeout=30, user_agent="skiff-agent") as api:
        token = str(api.create(CREDENTIALS, {"nodeName": cfg.node_name})["token"])
    write_secret(cfg.credential_file, token)
    return token


def _read_secret(path: Path) -> str:
    try:
        value = path.read_text().strip()
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err}") from None
    if not value:
        raise ConfigError(f"{path} is empty")
    return value


def write_secret(path: Path, value: str) -> None:
    """Write `value` to `path` with mode 0600, atomically."""
    write_atomic(path, value + "\n", mode=0o600)
