"""What `skiff up` writes before it starts anything (no processes here)."""

from __future__ import annotations

from pathlib import Path

import yaml

from control_plane.devtools.localcluster import CONTROL_PLANE_TAINT, LocalCluster


def agent_config(cluster: LocalCluster, host: str) -> dict[str, object]:
    return dict(yaml.safe_load((cluster.root / "hosts" / host / "etc/skiff/agent.yaml").read_text()))


def test_masters_are_tainted_and_carry_the_control_plane(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path / "c", masters=3, nodes=2, subnet="127.0.99")
    cluster.create()
    assert [h.address for h in cluster.hosts] == [f"127.0.99.{i}" for i in range(1, 6)]
    assert agent_config(cluster, "m1")["taints"] == [CONTROL_PLANE_TAINT]
    assert agent_config(cluster, "w1")["taints"] == []
    manifests = sorted(p.name for p in (cluster.root / "hosts/m2/etc/skiff/manifests").iterdir())
    assert manifests == ["apiserver.yaml", "controller-manager.yaml", "scheduler.yaml", "store.yaml"]
    assert not list((cluster.root / "hosts/w1/etc/skiff/manifests").iterdir())
    config = yaml.safe_load(cluster.config_file.read_text())
    assert config["servers"] == [f"https://127.0.99.{i}:6443" for i in (1, 2, 3)]
    assert cluster.config_file.stat().st_mode & 0o077 == 0  # it holds the admin token


def test_a_one_host_cluster_is_also_its_worker(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path / "c", masters=1, nodes=0)
    cluster.create()
    assert agent_config(cluster, "m1")["taints"] == []
    assert agent_config(cluster, "m1")["role"] == "control-plane"


def test_create_twice_keeps_the_same_identity(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path / "c", masters=1, nodes=1)
    cluster.create()
    token, ca = (cluster.root / "admin.token").read_text(), (cluster.pki / "ca.crt").read_bytes()
    cluster.create()
    assert (cluster.root / "admin.token").read_text() == token and (cluster.pki / "ca.crt").read_bytes() == ca
