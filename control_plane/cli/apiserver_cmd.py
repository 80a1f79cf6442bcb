"""`skiff apiserver`: run the API server in the foreground."""

from __future__ import annotations

from pathlib import Path

import typer

from control_plane.api import defaults
from control_plane.cli.output import fail

STORE_ENDPOINTS = defaults.LOCAL_STORE_ENDPOINTS


def apiserver(
    store_endpoints: str = typer.Option(STORE_ENDPOINTS, "--store-endpoints",
                                        help="Comma-separated HOST:PORT of the store members."),
    listen: str = typer.Option(defaults.LOCAL_API_LISTEN, "--listen", help="HOST:PORT to serve HTTPS on."),
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
    compaction: float = typer.Option(300.0, "--etcd-compaction-interval", min=0,
                                     help="Seconds between compactions of the store's history "
                                          "(kube-apiserver's default: 5 minutes); 0 never compacts."),
) -> None:
    """Run the API server: Kubernetes-shaped REST over the store, HTTPS with bearer tokens.

    Example:
      skiff apiserver --store-endpoints 127.0.1.1:2379,127.0.1.2:2379,127.0.1.3:2379 \\
        --listen 127.0.1.1:6443 --tls-cert-file /etc/skiff/pki/apiserver.crt \\
        --tls-private-key-file /etc/skiff/pki/apiserver.key \\
        --admin-token-file /etc/skiff/admin.token --kubelet-certificate-authority /etc/skiff/pki/ca.crt
    """
    from control_plane.apiserver.serve import ServeConfig, ServeError, serve
    from control_plane.client import component

    component.setup_logging()
    try:
        serve(ServeConfig(store_endpoints, listen, tls_cert, tls_key, admin_token_file, bootstrap_token_file,
                          agent_ca, compaction))
    except ServeError as err:
        fail(str(err))
