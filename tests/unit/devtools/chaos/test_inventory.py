"""The SSH chaos target reads the Ansible inventory the cluster was built with."""

from __future__ import annotations

from pathlib import Path

import pytest

from control_plane.devtools.chaos.sshtarget import Inventory, SshTarget


def test_lab_style_inventory(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text("""
all:
  vars: {ansible_user: root, ansible_ssh_private_key_file: /k/lab_key, skiff_install_dir: /srv/skiff}
  children:
    masters: {hosts: {m1: {ansible_host: 10.9.0.1}, m2: {ansible_host: 10.9.0.2}}}
    nodes: {hosts: {n1: {ansible_host: 10.9.0.3}}}
""")
    target = SshTarget(inv, [tmp_path / "known_hosts"])
    assert target.masters() == ["m1", "m2"] and target.workers() == ["n1"]
    assert target.store_endpoints() == {"m1": "10.9.0.1:2379", "m2": "10.9.0.2:2379"}
    assert target.admin_config() == tmp_path / "skiff-assets/admin.conf"
    assert target.skiff == "/srv/skiff/venv/bin/skiff" and target.key == Path("/k/lab_key")


def test_top_level_groups_and_host_names_as_addresses(tmp_path: Path) -> None:
    inv = tmp_path / "hosts.yaml"
    inv.write_text("masters:\n  hosts:\n    a.example:\n")
    parsed = Inventory.read(inv)
    assert [(h.name, h.address, h.role) for h in parsed.hosts] == [("a.example", "a.example", "master")]
    with pytest.raises(ValueError, match="no SSH key"):
        SshTarget(inv, [])


@pytest.mark.parametrize("text, message", [("- a\n- b\n", "not a YAML inventory"),
                                           ("nodes: {hosts: {n1: }}\n", "no host in the group `masters`"),
                                           ("a: [\n", "cannot read")])
def test_bad_inventories_are_refused_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text(text)
    with pytest.raises(ValueError, match=message):
        Inventory.read(inv)
