"""Fixtures that run real member processes on loopback and always clean them up."""

from __future__ import annotations

import itertools
import shutil
import ssl
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from control_plane.devtools.storecluster import LocalCluster, LocalEtcd, LocalStore
from tests.integration.controlplane import ControlPlane
from tests.integration.needs import need

# Each cluster gets its own 127.0.N.0/24 so a slow-closing socket of one test never
# collides with the next.  127.0.1.x is left to `make demo`; the session's `skiff up`
# cluster takes the first one, like any other.
_subnets = itertools.count(20)
LAST_SUBNET = 254


def next_subnet() -> str:
    """A 127.0.N prefix no other cluster of this session has used (N from 20 to 254)."""
    n = next(_subnets)
    if n > LAST_SUBNET:
        raise RuntimeError(f"more than {LAST_SUBNET - 19} test clusters in one session: no 127.0.N left")
    return f"127.0.{n}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers from what a test uses, so they are consistent: every test here is
    `integration`; one that runs a real etcd is `etcd`; one that builds lab hosts is `lab`
    (select with `-m`, e.g. `pytest -m "integration and not lab"`)."""
    here = Path(__file__).parent
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.integration)
        fixtures = getattr(item, "fixturenames", ())
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if "etcd3" in fixtures or params.get("any_store") == "etcd" or "etcd" in item.name:
            item.add_marker(pytest.mark.etcd)
        if Path(str(item.fspath)).name in ("test_lab.py", "test_provision.py", "test_ansible.py"):
            item.add_marker(pytest.mark.lab)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


def _dump_logs(cluster: LocalCluster) -> None:
    for m in cluster.members:
        log = cluster.logfile(m)
        if log.exists():
            tail = log.read_text(errors="replace").splitlines()[-30:]
            print(f"---- {m.name} log tail ----\n" + "\n".join(tail))


def _run(request: pytest.FixtureRequest, cluster: LocalCluster) -> Iterator[LocalCluster]:
    try:
        cluster.start()
        cluster.wait_ready(timeout=40)
        yield cluster
    finally:
        failed = getattr(request.node, "rep_call", None)
        if isinstance(cluster, LocalEtcd):
            # A graceful etcd stop transfers leadership first, to peers that are stopping
            # too: 7 s per test.  The data is thrown away, so a crash stop will do.
            for m in cluster.members:
                cluster.kill(m)
        else:
            cluster.stop()
        if failed is not None and failed.failed:
            _dump_logs(cluster)


@pytest.fixture
def store3(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalStore]:
    """Three Skiff store members, ready (a leader accepted a write)."""
    extra = getattr(request, "param", None) or []
    cluster = LocalStore(tmp_path / "store", 3, subnet=next_subnet(), extra_args=extra)
    yield from _run(request, cluster)  # type: ignore[misc]


@pytest.fixture
def etcd3(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalEtcd]:
    """Three real etcd members (Debian's etcd-server)."""
    need(shutil.which("etcd") is not None,
         "Debian's etcd-server is not installed (make test installs it when run as root)")
    cluster = LocalEtcd(tmp_path / "etcd", 3, subnet=next_subnet())
    yield from _run(request, cluster)  # type: ignore[misc]


@pytest.fixture(params=["skiff", "etcd"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalCluster]:
    """The same tests against Skiff's store and against a real etcd 3.4."""
    if request.param == "etcd":
        need(shutil.which("etcd") is not None,
             "Debian's etcd-server is not installed (make test installs it when run as root)")
        cluster: LocalCluster = LocalEtcd(tmp_path / "etcd", 3, subnet=next_subnet())
    else:
        cluster = LocalStore(tmp_path / "store", 3, subnet=next_subnet())
    yield from _run(request, cluster)  # type: ignore[misc]


@dataclass
class ApiServer:
    url: str
    ca: Path
    admin_token: str

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTPS client that verifies the cluster CA and sends `token` (admin by default)."""
        headers = {"Authorization": f"Bearer {token or self.admin_token}"} if token != "" else {}
        return httpx.Client(base_url=self.url, verify=ssl.create_default_context(cafile=str(self.ca)),
                            headers=headers, timeout=30)


@pytest.fixture
def control_plane(request: pytest.FixtureRequest, store3: LocalStore,
                  tmp_path: Path) -> Iterator[ControlPlane]:
    """API servers on all three members' addresses (config file at `.config_file`);
    tests start components with `.start(name, args)`."""
    cp = ControlPlane(store3, tmp_path / "cp")
    try:
        cp.start_apiservers(getattr(request, "param", None) or 3)
        yield cp
    finally:
        failed = getattr(request.node, "rep_call", None)
        cp.close(dump=failed is not None and failed.failed)


@contextmanager
def running_apiserver(store: LocalStore, tmp_path: Path, show_log: Callable[[], bool]) -> Iterator[ApiServer]:
    """An API server process (HTTPS, cluster CA, admin token) on `store`; its log tail is
    printed at the end when `show_log()` says so (the test failed)."""
    from control_plane.apiserver.authn import new_token
    from control_plane.devtools import procs
    from control_plane.provision.pki import create_ca, issue_server_cert

    host = store.members[0].host
    pki = tmp_path / "pki"
    ca, _ = create_ca(pki)
    cert, key = issue_server_cert(pki, pki, "apiserver", [host, "localhost"])
    token = new_token()
    token_file = tmp_path / "admin.token"
    token_file.write_text(token + "\n")
    pidfile, logfile = tmp_path / "apiserver.pid", tmp_path / "apiserver.log"
    procs.start([sys.executable, "-m", "control_plane.cli.main", "apiserver", "--store-endpoints",
                 ",".join(store.endpoints), "--listen", f"{host}:6443", "--tls-cert-file", str(cert),
                 "--tls-private-key-file", str(key), "--admin-token-file", str(token_file)],
                pidfile, logfile)
    server = ApiServer(f"https://{host}:6443", ca, token)
    try:
        with server.client("") as anonymous:
            procs.wait_for(lambda: anonymous.get("/readyz").status_code == 200, 60,
                           what="the API server to be ready")
        yield server
    finally:
        procs.stop(pidfile)
        if show_log() and logfile.exists():
            print("---- apiserver log tail ----\n" + "\n".join(logfile.read_text().splitlines()[-40:]))


def _failed(request: pytest.FixtureRequest) -> Callable[[], bool]:
    def failed() -> bool:
        rep = getattr(request.node, "rep_call", None)
        return rep is not None and bool(rep.failed)
    return failed


@pytest.fixture
def apiserver(request: pytest.FixtureRequest, store3: LocalStore, tmp_path: Path) -> Iterator[ApiServer]:
    """An API server process (HTTPS, cluster CA, admin token) on a real 3-member store."""
    with running_apiserver(store3, tmp_path, _failed(request)) as server:
        yield server


@pytest.fixture(scope="module")
def shared_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One API server and store for a module's tests that each leave them as they found
    them (bad requests): a fresh pair per case costs 4-5 s of start-up."""
    base = tmp_path_factory.mktemp("shared-api")
    store = LocalStore(base / "store", 3, subnet=next_subnet())
    try:
        store.start()
        store.wait_ready(timeout=40)
        with running_apiserver(store, base, lambda: False) as server:
            yield server
    finally:
        store.stop()


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One `skiff up` cluster (3 masters, 2 workers on their own 127.0.N.x) for every module that
    needs a whole local cluster (`test_chaos`, `test_local_cluster`): it takes half a
    minute to start and stop on 2 cores.  Always taken down at the end of the session."""
    from control_plane.devtools.localcluster import LocalCluster as SkiffCluster

    root = tmp_path_factory.mktemp("local") / "cluster"
    local = SkiffCluster(root, 3, 2, subnet=next_subnet())
    try:
        local.create()
        local.start()
        yield root
    finally:
        local.discover()
        local.down()
