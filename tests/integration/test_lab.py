"""`skiff lab`: network-namespace hosts with their own sshd, reached over real SSH.

Needs root (namespaces, bridges, mounts): CI runs as root; elsewhere these skip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SKIFF = [sys.executable, "-m", "control_plane.cli.main"]
NAME = "t9"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="lab hosts need root (network namespaces, mounts)")


def skiff(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*SKIFF, *args], capture_output=True, text=True, timeout=180, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    if ok:
        assert done.returncode == 0, f"skiff {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done


def ssh(status: dict[str, object], host: str, command: str) -> str:
    done = subprocess.run(["ssh", "-F", str(status["ssh_config"]), host, command], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def reachable(status: dict[str, object], host: str, address: str) -> bool:
    probe = f'timeout 2 bash -c "</dev/tcp/{address}/22" 2>/dev/null && echo open || echo closed'
    return ssh(status, host, probe).strip() == "open"


@pytest.fixture
def lab() -> Iterator[dict[str, object]]:
    skiff("lab", "down", "--name", NAME, ok=False)  # a leftover of an interrupted run
    try:
        skiff("lab", "up", "--masters", "2", "--nodes", "1", "--name", NAME, "--subnet", "10.98.7.0/24")
        yield json.loads(skiff("lab", "status", "--name", NAME, "-o", "json").stdout)
    finally:
        skiff("lab", "down", "--name", NAME, ok=False)


def test_lab_hosts_are_separate_machines_over_ssh(lab: dict[str, object]) -> None:
    hosts = lab["hosts"]
    assert isinstance(hosts, list)
    assert [(h["name"], h["role"], h["address"]) for h in hosts] == [
        ("m1", "master", "10.98.7.1"), ("m2", "master", "10.98.7.2"), ("n1", "node", "10.98.7.3")]
    assert os.path.isabs(str(lab["inventory"])) and os.path.isabs(str(lab["ssh_config"]))
    assert ssh(lab, "m1", "hostname").strip() == "m1" and ssh(lab, "n1", "hostname").strip() == "n1"
    ssh(lab, "m1", "echo mine > /etc/skiff/owner && mkdir -p /opt/skiff")
    assert ssh(lab, "m1", "cat /etc/skiff/owner").strip() == "mine"
    assert ssh(lab, "n1", "ls -A /etc/skiff /opt").strip() in ("/etc/skiff:\n\n/opt:", "/etc/skiff:\n/opt:")
    assert not os.path.exists("/etc/skiff/owner")  # not on the machine either
    routes = ssh(lab, "m2", "ip -4 route")
    assert "default" not in routes and "10.98.7.0/24" in routes  # nothing can leave the machine
    clash = skiff("lab", "up", "--name", NAME, ok=False)
    assert clash.returncode == 1 and "exists" in clash.stderr


def test_partition_heal_and_add(lab: dict[str, object]) -> None:
    assert reachable(lab, "n1", "10.98.7.1") and reachable(lab, "n1", "10.98.7.2")
    skiff("lab", "partition", "n1", "--from", "m1", "--name", NAME)
    assert not reachable(lab, "n1", "10.98.7.1") and reachable(lab, "n1", "10.98.7.2")
    skiff("lab", "heal", "--name", NAME)
    assert reachable(lab, "n1", "10.98.7.1")
    assert "added n2" in skiff("lab", "add", "--role", "node", "--name", NAME).stdout
    status = json.loads(skiff("lab", "status", "--name", NAME, "-o", "json").stdout)
    assert ssh(status, "n2", "hostname").strip() == "n2"


def test_down_leaves_nothing() -> None:
    skiff("lab", "down", "--name", NAME, ok=False)  # a leftover of an interrupted run
    skiff("lab", "up", "--masters", "1", "--nodes", "1", "--name", NAME, "--subnet", "10.98.8.0/24")
    status = json.loads(skiff("lab", "status", "--name", NAME, "-o", "json").stdout)
    namespaces = [h["namespace"] for h in status["hosts"]]
    skiff("lab", "down", "--name", NAME)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not any(ns in listed for ns in namespaces)
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert f"skb{NAME}" not in links and f"skv{NAME}" not in links
    assert not os.path.exists(f"/var/lib/skiff-lab/{NAME}")
    mounts = Path("/proc/self/mountinfo").read_text()
    assert f"skiff-lab/{NAME}" not in mounts
    assert skiff("lab", "status", "--name", NAME, ok=False).returncode == 1
