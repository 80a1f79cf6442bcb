"""A control plane of real processes on loopback for tests: API servers on the store's
member addresses, and components (scheduler, controller manager) started with the
`skiff` CLI.  Every process has a pidfile and is stopped by PID in `close()`."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from control_plane.apiserver.authn import new_token
from control_plane.client.apiclient import ApiClient
from control_plane.client.config import ClientConfig, load, write
from control_plane.devtools import procs
from control_plane.devtools.storecluster import LocalStore
from control_plane.provision.pki import create_ca, issue_server_cert

SKIFF = [sys.executable, "-m", "control_plane.cli.main"]


class ControlPlane:
    def __init__(self, store: LocalStore, root: Path) -> None:
        self.store, self.root = store, root
        self.pki = root / "pki"
        self.ca, _ = create_ca(self.pki)
        self.admin_token = new_token()
        (root / "admin.token").write_text(self.admin_token + "\n")
        self.urls: list[str] = []
        self.config_file = root / "config"
        self.pidfiles: dict[str, Path] = {}

    def start_apiservers(self, count: int) -> None:
        for m in self.store.members[:count]:
            name = f"apiserver-{m.name}"
            cert, key = issue_server_cert(self.pki, self.pki, name, [m.host, "localhost"])
            self.start(name, ["apiserver", "--store-endpoints", ",".join(self.store.endpoints),
                              "--listen", f"{m.host}:6443", "--tls-cert-file", str(cert),
                              "--tls-private-key-file", str(key),
                              "--admin-token-file", str(self.root / "admin.token"),
                              "--kubelet-certificate-authority", str(self.ca)], with_config=False)
            self.urls.append(f"https://{m.host}:6443")
        write(self.config_file, self.urls, self.ca, self.admin_token)
        with self.config().client(timeout=5) as api:
            for url in self.urls:
                procs.wait_for(lambda u=url: _ready(api, u), 60, what=f"the API server at {url} to be ready")

    def config(self) -> ClientConfig:
        return load(self.config_file)

    def api(self, timeout: float = 10.0) -> ApiClient:
        return self.config().client(timeout=timeout)

    def start(self, name: str, args: list[str], with_config: bool = True) -> Path:
        pidfile = self.root / f"{name}.pid"
        argv = SKIFF + (["--config", str(self.config_file)] if with_config else []) + args
        procs.start(argv, pidfile, self.root / f"{name}.log")
        self.pidfiles[name] = pidfile
        return pidfile

    def kill(self, name: str) -> None:
        procs.kill(self.pidfiles[name])

    def stop(self, name: str) -> None:
        procs.stop(self.pidfiles[name])

    def log_tail(self, name: str, lines: int = 40) -> str:
        log = self.root / f"{name}.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""

    def close(self, dump: bool = False) -> None:
        """Stop every process; with `dump` (a failed test) print each log's tail, after
        asking each process for its threads' stacks (SIGUSR1) so a hang shows where."""
        if dump:
            for pidfile in self.pidfiles.values():
                procs.signal_pidfile(pidfile, signal.SIGUSR1)
            time.sleep(1.0)  # the dump is written asynchronously by each process
        procs.stop_all(list(self.pidfiles.values()))
        if dump:
            for name in self.pidfiles:
                print(f"---- {name} log tail ----\n{self.log_tail(name, 200)}")


def _ready(api: ApiClient, url: str) -> bool:
    import httpx
    try:
        return api._http.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
