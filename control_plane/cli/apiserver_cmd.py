"""`skiff apiserver`: run the API server in the foreground."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import typer

from control_plane.cli.output import fail

BOOTSTRAP_TTL = 24 * 3600.0
STORE_ENDPOINTS = "127.0.1.1:2379,127.0.1.2:2379,127.0.1.3:2379"


def apiserver(
    store_endpoints: str = typer.Option(STORE_ENDPOINTS, "--store-endpoints",
                                        help="Comma-separated HOST:PORT of the store members."),
    listen: str = typer.Option("127.0.1.1:6443", "--listen", help="HOST:PORT to serve HTTPS on."),
    tls_cert: Path = typer.Option(..., "--tls-cert-file", help="Server certificate (PEM), signed by the "
                                  "cluster CA, with this master's addresses in its SANs."),
    tls_key: Path = typer.Option(..., "--tls-private-key-file", help="Its private key (PEM, mode 0600)."),
    admin_token_file: Path | None = typer.Option(None, "--admin-token-file",
                                                 help="A file holding the cluster's admin token; it is "
                                                      "registered (hashed) at start-up."),
    bootstrap_token_file: Path | None = typer.Option(None, "--bootstrap-token-file",
                                                     help="A file holding a bootstrap token to register at "
                                                          "start-up (valid 24 h), as `kubeadm init` does."),
    agent_ca: Path | None = typer.Option(None, "--kubelet-certificate-authority",
                                         help="CA that signed the agents' serving certificates "
                                              "(checked when proxying pods/log); default: the system's."),
) -> None:
    """Run the API server: Kubernetes-shaped REST over the store, HTTPS with bearer tokens.

    Example:
      skiff apiserver --store-endpoints 127.0.1.1:2379,127.0.1.2:2379,127.0.1.3:2379 \\
        --listen 127.0.1.1:6443 --tls-cert-file /etc/skiff/pki/apiserver.crt \\
        --tls-private-key-file /etc/skiff/pki/apiserver.key \\
        --admin-token-file /etc/skiff/admin.token --kubelet-certificate-authority /etc/skiff/pki/ca.crt
    """
    import uvicorn

    from control_plane import component
    from control_plane.apiserver.app import build_app
    from control_plane.apiserver.auth import TokenStore
    from control_plane.apiserver.handlers import Handlers
    from control_plane.apiserver.storage import ObjectStore
    from raftstore.client import StoreClient
    from raftstore.config import parse_addr
    from raftstore.errors import StoreError

    component.setup_logging()
    try:
        host, port = parse_addr(listen, "--listen")
        admin_token = admin_token_file.read_text().strip() if admin_token_file else None
        bootstrap_token = bootstrap_token_file.read_text().strip() if bootstrap_token_file else None
    except (StoreError, OSError) as err:
        fail(getattr(err, "message", str(err)))
    for path in (tls_cert, tls_key):
        if not path.is_file():
            fail(f"{path} does not exist (create the cluster PKI first)")
    client = StoreClient(store_endpoints, timeout=10.0)
    handlers, tokens = Handlers(ObjectStore(client)), TokenStore(client)
    deadline = time.monotonic() + 60
    while True:  # the store may still be electing a leader
        try:
            handlers.bootstrap()
            if admin_token:
                tokens.put(admin_token, "admin")
            if bootstrap_token:
                tokens.put(bootstrap_token, "bootstrap", ttl=BOOTSTRAP_TTL)
            break
        except ValueError as err:
            fail(f"a token file ({admin_token_file}, {bootstrap_token_file}): {err}")
        except Exception as err:
            if time.monotonic() > deadline:
                fail(f"cannot reach the store at {store_endpoints}: {err}")
            time.sleep(0.5)
    verify: ssl.SSLContext | bool = True
    if agent_ca:
        verify = ssl.create_default_context(cafile=str(agent_ca))
    # Watches are long requests: on SIGTERM they get 2 s to end, then they are cut (their
    # clients resume on another master), instead of holding the shutdown for minutes.
    uvicorn.run(build_app(handlers, tokens, verify), host=host, port=port, log_level="warning",
                access_log=False, ssl_certfile=str(tls_cert), ssl_keyfile=str(tls_key),
                timeout_graceful_shutdown=2)
