"""`skiff node join`: install and start an agent on one host over SSH and join it to the
cluster, without Ansible (like k3sup).  The same result as `join.yml` for one host:

1. check the host's Python (3.11+);
2. copy the controller's wheelhouse and install Skiff into /opt/skiff/venv, offline
   (skipped when this build is installed: the marker of the Ansible role skiff_install);
3. make the host's agent certificate (`Assets`), copy it with the CA;
4. give it a fresh bootstrap token (unless it joined before) and the agent config;
5. start the agent under `skiff supervise`, and wait until its Node is Ready.

Contract: idempotent (a second run reinstalls nothing and restarts nothing); each step
is announced through `progress`; failures raise `JoinError` naming the step.
"""

from __future__ import annotations

import importlib.metadata
import shlex
import time
from collections.abc import Callable

import yaml

from control_plane.api import defaults, paths
from control_plane.client.apiclient import ApiClient
from control_plane.client.errors import ApiClientError
from control_plane.provision.assets import Assets, HostSpec
from control_plane.provision.bundle import Settings, agent_config
from control_plane.provision.errors import JoinError, RemoteError
from control_plane.provision.remote import Remote
from control_plane.provision.wheelhouse import Build

INSTALL_DIR = defaults.INSTALL_DIR
SKIFF_BIN = f"{INSTALL_DIR}/venv/bin/skiff"
VERSION = importlib.metadata.version("skiff")
Progress = Callable[[str], None]


def join(
    remote: Remote,
    address: str,
    name: str | None,
    assets: Assets,
    api: ApiClient,
    servers: list[str],
    build: Build,
    progress: Progress,
    timeout: float = 300.0,
) -> str:
    """Join the host behind `remote` as node `name` (default: its hostname); returns the name."""
    deadline = time.monotonic() + timeout
    try:
        progress(f"checking Python on {address}")
        remote.run("/usr/bin/python3 -c 'import sys; assert sys.version_info >= (3, 11), sys.version'")
        name = name or remote.run("hostname")[1].strip()
        _install(remote, build, progress)
        progress(f"issuing the certificate of {name}")
        assets.ensure([HostSpec(name, address, "node")])
        host = assets.host_dir(name)
        remote.run(
            "mkdir -p /etc/skiff/pki /etc/skiff/manifests /var/lib/skiff /var/log/skiff && "
            "chmod 700 /etc/skiff/pki /var/lib/skiff"
        )
        remote.put(assets.ca, "/etc/skiff/pki/ca.crt", 0o644)
        remote.put(host / "agent.crt", "/etc/skiff/pki/agent.crt", 0o644)
        remote.put(host / "agent.key", "/etc/skiff/pki/agent.key", 0o600)
        if remote.run("test -s /var/lib/skiff/credential", check=False)[0] != 0:
            progress("creating a bootstrap token")
            token = api.create("/apis/skiff.io/v1/bootstraptokens", {"ttlSeconds": 3600})["token"]
            remote.put_text(token + "\n", "/etc/skiff/bootstrap.token")
        config = yaml.safe_dump(
            agent_config(HostSpec(name, address, "node"), servers, Settings()), sort_keys=False
        )
        changed = remote.run("cat /etc/skiff/agent.yaml", check=False)[1] != config
        if changed:
            remote.put_text(config, "/etc/skiff/agent.yaml")
            remote.run(f"{SKIFF_BIN} supervise stop --pidfile /run/skiff/agent.pid")
        progress("starting the agent")
        started = remote.run(
            f"{SKIFF_BIN} supervise start --pidfile /run/skiff/agent.pid "
            f"--log /var/log/skiff/agent.log -- {SKIFF_BIN} agent --config /etc/skiff/agent.yaml"
        )
        progress(started[1].strip())
    except RemoteError as err:
        raise JoinError(str(err)) from None
    except ApiClientError as err:
        raise JoinError(f"the API: {err.message}") from None
    progress(f"waiting for node/{name} to be Ready")
    _wait_ready(api, name, deadline)
    return name


def _install(remote: Remote, build: Build, progress: Progress) -> None:
    """What the Ansible role skiff_install does: the same marker, so either sees the other's work."""
    marker = f"{INSTALL_DIR}/venv/.skiff-{build.digest}"
    if remote.run(f"test -e {marker}", check=False)[0] == 0:
        progress(f"Skiff {VERSION} (build {build.digest}) is installed")
        return
    progress(f"copying the wheelhouse ({build.tar.stat().st_size // 2**20} MiB)")
    remote.run(f"mkdir -p {INSTALL_DIR}/wheelhouse")
    remote.put(build.tar, f"{INSTALL_DIR}/wheelhouse.tar")
    remote.run(f"tar -xf {INSTALL_DIR}/wheelhouse.tar -C {INSTALL_DIR}/wheelhouse")
    progress(f"installing Skiff {VERSION} (build {build.digest}) into {INSTALL_DIR}/venv")
    venv = f"{INSTALL_DIR}/venv"
    remote.run(f"test -x {venv}/bin/python || /usr/bin/python3 -m venv --without-pip {venv}")
    pip = f"/usr/bin/python3 -m pip --python {venv}/bin/python install --quiet --no-index "
    pip += f"--find-links {INSTALL_DIR}/wheelhouse"
    remote.run(f"{pip} skiff=={VERSION}", timeout=600)
    remote.run(f"{pip} --force-reinstall --no-deps skiff=={VERSION}", timeout=600)
    remote.run(f"echo {shlex.quote(VERSION + ' ' + build.digest)} > {marker}")


def _wait_ready(api: ApiClient, name: str, deadline: float) -> None:
    last = "it has not registered yet"
    while time.monotonic() < deadline:
        try:
            node = api.get(paths.path(paths.resource("nodes"), None, name))
            conds = {c.get("type"): c for c in (node.get("status") or {}).get("conditions") or []}
            ready = conds.get("Ready") or {}
            if ready.get("status") == "True":
                return
            last = f"Ready is {ready.get('status', 'unknown')}"
        except ApiClientError as err:
            last = err.message
        time.sleep(1.0)
    raise JoinError(f"node/{name} did not become Ready in time: {last}")
