"""The controller-side pieces of provisioning: assets are made once and re-issued only
when a host's address changes; each host's /etc/skiff tar is reproducible."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import yaml

from control_plane.provision.assets import Assets, HostSpec, parse_hosts
from control_plane.provision.bundle import Settings, files_for, pack, write_bundle

MASTERS = [HostSpec("m1", "10.0.0.1", "master"), HostSpec("m2", "10.0.0.2", "master"),
           HostSpec("m3", "10.0.0.3", "master")]
NODE = HostSpec("n1", "10.0.0.4", "node")


def test_assets_are_made_once_and_a_moved_host_gets_a_new_certificate(tmp_path: Path) -> None:
    assets = Assets(tmp_path)
    first = assets.ensure([*MASTERS, NODE])
    assert {"pki/ca.crt", "admin.token", "bootstrap.token", "store.secret", "hosts/m1/apiserver.crt",
            "hosts/n1/agent.crt"} <= set(first)
    assert not (tmp_path / "hosts/n1/apiserver.crt").exists()  # workers serve no API
    assert oct((tmp_path / "admin.token").stat().st_mode)[-3:] == "600"
    token = (tmp_path / "admin.token").read_text()
    assert assets.ensure([*MASTERS, NODE]) == []
    assert assets.ensure([*MASTERS, HostSpec("n1", "10.0.0.9", "node")]) == ["hosts/n1/agent.crt"]
    assert (tmp_path / "admin.token").read_text() == token


@pytest.mark.parametrize("bad", ["m1", "=10.0.0.1", "m1=", "m1=not-an-ip"])
def test_host_specs_are_checked(bad: str) -> None:
    with pytest.raises(ValueError, match=r"m1=10\.0\.0\.1|not an IP address"):
        parse_hosts([bad], "master")


def test_a_master_gets_the_control_plane_and_a_node_only_its_agent(tmp_path: Path) -> None:
    assets = Assets(tmp_path)
    assets.ensure([*MASTERS, NODE])
    s = Settings(build="b1", version="0.1.0")
    master = files_for(assets, MASTERS[0], MASTERS, s)
    node = files_for(assets, NODE, MASTERS, s)
    pods = ("store", "apiserver", "scheduler", "controller-manager")
    assert {f"manifests/{n}.yaml" for n in pods} <= set(master)
    assert not any(p.startswith("manifests/") for p in node) and "store.secret" not in node
    assert "bootstrap.token" not in master and "bootstrap.token" not in node  # given once, separately
    agent = yaml.safe_load(master["agent.yaml"][0])
    assert agent["role"] == "control-plane" and agent["taints"][0]["effect"] == "NoSchedule"
    assert agent["servers"] == [f"https://10.0.0.{i}:6443" for i in (1, 2, 3)]
    assert yaml.safe_load(node["agent.yaml"][0])["taints"] == []
    store = yaml.safe_load(master["manifests/store.yaml"][0])
    command = store["spec"]["containers"][0]["command"]
    assert command[0] == "/opt/skiff/venv/bin/skiff" and all(isinstance(a, str) for a in command)
    assert "m1=10.0.0.1:2380,m2=10.0.0.2:2380,m3=10.0.0.3:2380" in command
    assert store["metadata"]["annotations"]["skiff.io/build"] == "b1"
    assert master["pki/agent.key"][1] == 0o600 and master["pki/ca.crt"][1] == 0o644


def test_the_tar_is_reproducible_and_rewritten_only_on_change(tmp_path: Path) -> None:
    assets = Assets(tmp_path)
    assets.ensure([*MASTERS, NODE])
    s = Settings(build="b1")
    assert pack(files_for(assets, NODE, MASTERS, s)) == pack(files_for(assets, NODE, MASTERS, s))
    written = write_bundle(assets, NODE, MASTERS, s)
    assert written is not None and write_bundle(assets, NODE, MASTERS, s) is None
    assert write_bundle(assets, NODE, MASTERS, Settings(build="b2")) is not None  # a new build
    with tarfile.open(fileobj=io.BytesIO(written.read_bytes())) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["pki/agent.key"].mode == 0o600 and members["pki/agent.key"].mtime == 0
    assert members["build"].isfile() and members["pki"].isdir()
