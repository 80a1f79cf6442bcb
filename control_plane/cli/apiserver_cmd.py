"""`skiff apiserver`: run the API server in the foreground."""

from __future__ import annotations

import logging
import time

import typer

from control_plane.cli.output import fail

STORE_ENDPOINTS = "127.0.1.1:2379,127.0.1.2:2379,127.0.1.3:2379"


def apiserver(
    store_endpoints: str = typer.Option(STORE_ENDPOINTS, "--store-endpoints",
                                        help="Comma-separated HOST:PORT of the store members."),
    listen: str = typer.Option("127.0.1.1:6443", "--listen", help="HOST:PORT to serve the API on."),
) -> None:
    """Run the API server: Kubernetes-shaped REST over the store.

    Example:
      skiff apiserver --store-endpoints 127.0.1.1:2379,127.0.1.2:2379,127.0.1.3:2379 --listen 127.0.1.1:6443
    """
    import uvicorn

    from control_plane.apiserver.app import build_app
    from control_plane.apiserver.handlers import Handlers
    from control_plane.apiserver.storage import ObjectStore
    from raftstore.client import StoreClient
    from raftstore.config import parse_addr
    from raftstore.errors import StoreError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        host, port = parse_addr(listen, "--listen")
    except StoreError as err:
        fail(err.message)
    handlers = Handlers(ObjectStore(StoreClient(store_endpoints, timeout=10.0)))
    deadline = time.monotonic() + 60
    while True:  # the store may still be electing a leader
        try:
            handlers.bootstrap()
            break
        except Exception as err:
            if time.monotonic() > deadline:
                fail(f"cannot reach the store at {store_endpoints}: {err}")
            time.sleep(0.5)
    uvicorn.run(build_app(handlers), host=host, port=port, log_level="warning", access_log=False)
