"""Start-up and serving of one API server: what `skiff apiserver` runs.

Contract: `serve()` registers the initial namespaces and the token files (waiting up to
`STORE_WAIT` s for the store to elect a leader), then serves HTTPS until SIGTERM, when
long requests (watches) get 2 s to end.  Bad settings raise `ServeError` with one line
for the operator; nothing is served then.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from pathlib import Path

from control_plane.apiserver.app import build_app
from control_plane.apiserver.authn import TokenStore
from control_plane.apiserver.compactor import DEFAULT_INTERVAL, Compactor
from control_plane.apiserver.handlers import Handlers
from control_plane.apiserver.storage import ObjectStore
from raftstore.client import StoreClient
from raftstore.config import parse_addr
from raftstore.errors import StoreError

BOOTSTRAP_TTL = 24 * 3600.0
STORE_WAIT = 60.0


class ServeError(Exception):
    """The API server cannot start: a bad flag, a missing file, an unreachable store."""


@dataclass(frozen=True)
class ServeConfig:
    """What `skiff apiserver`'s flags say."""

    store_endpoints: str
    listen: str
    tls_cert: Path
    tls_key: Path
    admin_token_file: Path | None = None
    bootstrap_token_file: Path | None = None
    agent_ca: Path | None = None
    compaction_interval: float = DEFAULT_INTERVAL  # seconds; 0: never compact


def _read_token(path: Path | None) -> str | None:
    return path.read_text().strip() if path else None


def _register(cfg: ServeConfig, handlers: Handlers, tokens: TokenStore) -> None:
    """Initial namespaces and tokens, retried while the store may still be electing."""
    admin_token, bootstrap_token = _read_token(cfg.admin_token_file), _read_token(cfg.bootstrap_token_file)
    deadline = time.monotonic() + STORE_WAIT
    while True:
        try:
            handlers.bootstrap()
            if admin_token:
                tokens.put(admin_token, "admin")
            if bootstrap_token:
                tokens.put(bootstrap_token, "bootstrap", ttl=BOOTSTRAP_TTL)
            return
        except ValueError as err:
            raise ServeError(f"a token file ({cfg.admin_token_file}, {cfg.bootstrap_token_file}): "
                             f"{err}") from err
        except Exception as err:
            if time.monotonic() > deadline:
                raise ServeError(f"cannot reach the store at {cfg.store_endpoints}: {err}") from err
            time.sleep(0.5)


def serve(cfg: ServeConfig) -> None:
    """Run the API server in the foreground (see the module's contract)."""
    import uvicorn

    try:
        host, port = parse_addr(cfg.listen, "--listen")
        for path in (cfg.admin_token_file, cfg.bootstrap_token_file):
            if path is not None:
                path.read_text()
    except (StoreError, OSError) as err:
        raise ServeError(getattr(err, "message", str(err))) from err
    for path in (cfg.tls_cert, cfg.tls_key):
        if not path.is_file():
            raise ServeError(f"{path} does not exist (create the cluster PKI first)")
    client = StoreClient(cfg.store_endpoints, timeout=10.0)
    handlers, tokens = Handlers(ObjectStore(client)), TokenStore(client)
    _register(cfg, handlers, tokens)
    if cfg.compaction_interval > 0:
        Compactor(client, cfg.compaction_interval).start()
    verify: ssl.SSLContext | bool = True
    if cfg.agent_ca:
        verify = ssl.create_default_context(cafile=str(cfg.agent_ca))
    # Watches are long requests: on SIGTERM they get 2 s to end, then they are cut (their
    # clients resume on another master), instead of holding the shutdown for minutes.
    uvicorn.run(build_app(handlers, tokens, verify), host=host, port=port, log_level="warning",
                access_log=False, ssl_certfile=str(cfg.tls_cert), ssl_keyfile=str(cfg.tls_key),
                timeout_graceful_shutdown=2)
