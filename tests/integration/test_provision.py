"""End to end over real SSH: a lab (network-namespace hosts with their own sshd) is
provisioned by the Ansible playbooks and grown and shrunk over its life.

One lab for the whole story (each step needs the previous one, and a cluster takes
minutes to build on two cores):

site.yml -> 5 nodes Ready with real capacity, 12 control-plane pods, a deployment on
the workers -> a second site.yml changes nothing, nor does one in check mode -> a new
host joins with join.yml -> remove-node.yml drains a node (its pods run elsewhere) ->
`skiff node join` joins a host over paramiko, `skiff ssh` runs a command on it -> the
leading master's processes are killed over SSH: the cluster keeps serving, removing
another master is refused (quorum) -> site.yml restarts it and it rejoins -> reset.yml
asks first, then empties a host.

Root only (namespaces, mounts): CI runs as root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "ansible"
BIN = Path(sys.executable).parent
SKIFF = [sys.executable, "-m", "control_plane.cli.main"]
NAME = "t10"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="lab hosts need root (network namespaces, mounts)")

WORKLOAD = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - {name: web, image: process, command: [sleep, "3600"]}
"""


def run(argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done


class Lab:
    def __init__(self, status: dict[str, Any], tmp: Path) -> None:
        self.status = status
        self.inventory = Path(status["inventory"])
        self.admin = tmp / "admin.conf"

    def address(self, host: str) -> str:
        return str(next(h["address"] for h in self.status["hosts"] if h["name"] == host))

    def refresh(self) -> None:
        self.status = json.loads(run([*SKIFF, "lab", "status", "--name", NAME, "-o", "json"]).stdout)

    def playbook(self, book: str, *extra: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, ANSIBLE_CONFIG=str(ANSIBLE / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        argv = [
            str(BIN / "ansible-playbook"),
            "-i",
            str(self.inventory),
            str(ANSIBLE / book),
            "-e",
            f"skiff_admin_config={self.admin}",
            *extra,
        ]
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=900, cwd=ANSIBLE, env=env, check=False
        )

    def skiff(self, *args: str, ok: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = run([*SKIFF, "--config", str(self.admin), *args], timeout)
        if ok:
            assert done.returncode == 0, f"skiff {' '.join(args)}: {done.stdout}\n{done.stderr}"
        return done

    def get(self, *args: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(self.skiff("get", *args, "-o", "json").stdout)["items"]
        return items

    def store_members(self) -> list[dict[str, Any]]:
        """`skiff store status` of the three masters' members ([] if none answers)."""
        endpoints = ",".join(f"{self.address(m)}:2379" for m in ("m1", "m2", "m3"))
        done = self.skiff("store", "status", "-o", "json", "--endpoints", endpoints, ok=False)
        members: list[dict[str, Any]] = json.loads(done.stdout or "[]")
        return members

    def ssh(self, host: str, command: str) -> subprocess.CompletedProcess[str]:
        return run(["ssh", "-F", str(self.status["ssh_config"]), host, command], timeout=120)


def recap(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    tail = done.stdout.split("PLAY RECAP")[-1]
    return {line.split()[0]: line for line in tail.splitlines() if "ok=" in line}


def played(done: subprocess.CompletedProcess[str], hosts: list[str]) -> dict[str, str]:
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    lines = recap(done)
    assert sorted(h for h in lines if h != "localhost") == sorted(hosts), lines
    assert all("failed=0" in line and "unreachable=0" in line for line in lines.values()), lines
    return lines


def eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Retry `check` until it returns a truthy value (or stops raising AssertionError)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            got = check()
            if got:
                return got
            last = got
        except AssertionError as err:
            last = err
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}: {last}")


def ready(node: dict[str, Any]) -> bool:
    conds = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
    return conds.get("Ready") == "True"


def running_pods(lab: Lab, *args: str) -> list[dict[str, Any]]:
    return [
        p
        for p in lab.get("pods", *args)
        if p.get("status", {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    ]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    run([*SKIFF, "lab", "down", "--name", NAME])  # a leftover of an interrupted run
    try:
        up = run(
            [
                *SKIFF,
                "lab",
                "up",
                "--masters",
                "3",
                "--nodes",
                "2",
                "--name",
                NAME,
                "--subnet",
                "10.98.10.0/24",
            ],
            timeout=300,
        )
        assert up.returncode == 0, up.stderr
        yield Lab(json.loads(run([*SKIFF, "lab", "status", "--name", NAME, "-o", "json"]).stdout), tmp_path)
    finally:
        down = run([*SKIFF, "lab", "down", "--name", NAME], timeout=300)
        assert down.returncode == 0, down.stderr
        assert not [
            ns for ns in run(["ip", "netns", "list"]).stdout.split() if ns.startswith(f"skiff-{NAME}-")
        ]


@pytest.mark.timeout(1500)  # one story of many steps; each step has its own deadline
def test_a_lab_cluster_over_its_life(lab: Lab) -> None:
    first = ["m1", "m2", "m3", "n1", "n2"]
    started = time.monotonic()

    def step(what: str) -> None:  # the story's timeline, printed when the test fails
        print(f"[{time.monotonic() - started:6.1f} s] {what}", flush=True)

    # ---- site.yml: bare hosts to a working cluster --------------------------------
    step("site.yml: bare hosts to a working cluster")
    played(lab.playbook("site.yml"), first)
    assert lab.admin.exists() and oct(lab.admin.stat().st_mode)[-3:] == "600"
    nodes = lab.get("nodes")
    assert sorted(n["metadata"]["name"] for n in nodes) == first and all(ready(n) for n in nodes)
    for n in nodes:  # real numbers from psutil, not placeholders
        assert int(n["status"]["capacity"]["cpu"]) >= 1
        assert (
            n["status"]["capacity"]["memory"].endswith("Ki")
            and int(n["status"]["capacity"]["memory"][:-2]) > 0
        )
    eventually(
        lambda: len(running_pods(lab, "-n", "kube-system")) == 12, 180, "12 control-plane pods Running"
    )
    components = sorted(
        p["metadata"]["name"].rsplit("-", 1)[0] for p in running_pods(lab, "-n", "kube-system")
    )
    assert components == sorted(["apiserver", "controller-manager", "scheduler", "store"] * 3)

    # ---- a second run changes nothing ------------------------------------------------
    step("a second run changes nothing")
    again = played(lab.playbook("site.yml"), first)
    assert all("changed=0" in line for line in again.values()), again
    checked = played(lab.playbook("site.yml", "--check", "--limit", "n2"), ["n2"])  # check mode, one host
    assert all("changed=0" in line for line in checked.values()), checked

    # ---- a workload runs on the workers (masters are tainted) ------------------------
    step("a workload runs on the workers (masters are tainted)")
    manifest = lab.admin.parent / "web.yaml"
    manifest.write_text(WORKLOAD)
    lab.skiff("apply", "-f", str(manifest))
    pods = eventually(lambda: len(running_pods(lab)) == 4 and running_pods(lab), 120, "4 web pods Running")
    assert {p["spec"]["nodeName"] for p in pods} <= {"n1", "n2"}

    # ---- join.yml adds a host ----------------------------------------------------------
    step("join.yml adds a host")
    run([*SKIFF, "lab", "add", "--role", "node", "--name", NAME])
    lab.refresh()
    played(lab.playbook("join.yml", "--limit", "n3"), ["n3"])
    assert ready(next(n for n in lab.get("nodes") if n["metadata"]["name"] == "n3"))
    refused = lab.playbook("join.yml", "--limit", "m1")  # join.yml adds worker nodes only
    assert refused.returncode != 0 and "m1 is a master" in refused.stdout, refused.stdout[-2000:]

    # ---- remove-node.yml drains a node; its pods run elsewhere -------------------------
    step("remove-node.yml drains a node; its pods run elsewhere")
    played(lab.playbook("remove-node.yml", "-e", "node=n1"), ["n1"])
    assert "n1" not in [n["metadata"]["name"] for n in lab.get("nodes")]
    moved = eventually(
        lambda: len(running_pods(lab)) == 4 and running_pods(lab), 120, "4 web pods after n1 left"
    )
    assert "n1" not in {p["spec"]["nodeName"] for p in moved}
    assert lab.ssh("n1", "test -e /run/skiff/agent.pid || echo gone").stdout.strip() == "gone"

    # ---- skiff node join over paramiko; skiff ssh ----------------------------------------
    step("skiff node join over paramiko; skiff ssh")
    run([*SKIFF, "lab", "add", "--role", "node", "--name", NAME])
    lab.refresh()
    lab_dir = lab.inventory.parent
    joined = lab.skiff(
        "node",
        "join",
        lab.address("n4"),
        "--ssh-key",
        str(lab_dir / "lab_key"),
        "--known-hosts",
        str(lab_dir / "known_hosts"),
        "--assets",
        str(lab_dir / "skiff-assets"),
        timeout=600,
    )
    assert "copying the wheelhouse" in joined.stdout and "node/n4 joined" in joined.stdout
    assert ready(next(n for n in lab.get("nodes") if n["metadata"]["name"] == "n4"))
    ssh_args = ["--ssh-key", str(lab_dir / "lab_key"), "--known-hosts", str(lab_dir / "known_hosts")]
    assert lab.skiff("ssh", "n4", *ssh_args, "--", "hostname").stdout.strip() == "n4"
    assert lab.skiff("ssh", "n4", *ssh_args, "--", "sh", "-c", "exit 7", ok=False).returncode == 7
    # A host key that known_hosts does not hold is refused, never trusted on first use.
    empty = lab_dir / "empty_known_hosts"
    empty.write_text("")
    unknown = lab.skiff("ssh", "n4", "--ssh-key", str(lab_dir / "lab_key"), "--known-hosts", str(empty),
                        "--", "hostname", ok=False)
    assert unknown.returncode != 0 and "n4" not in unknown.stdout, unknown.stdout
    assert "Traceback" not in unknown.stderr and "host key" in unknown.stderr.lower(), unknown.stderr

    # ---- kill the leading master over SSH: the cluster keeps serving -------------------
    step("kill the leading master over SSH: the cluster keeps serving")
    members = lab.store_members()
    leader = next(m["name"] for m in members if m["leader"] is True)
    killed = lab.ssh(leader, "/opt/skiff/venv/bin/skiff reset --grace 0")
    assert killed.returncode == 0 and "stopped the agent" in killed.stdout, killed.stderr
    lab.skiff("scale", "deployment", "web", "--replicas", "6", timeout=60)
    eventually(lambda: len(running_pods(lab)) == 6, 180, "6 web pods with a master down")
    other = next(m for m in ("m1", "m2", "m3") if m != leader)
    refused = lab.playbook("remove-node.yml", "-e", f"node={other}")
    assert refused.returncode != 0 and "would lose its quorum" in refused.stdout, refused.stdout[-3000:]
    assert ready(next(n for n in lab.get("nodes") if n["metadata"]["name"] == other))

    # ---- the playbook restarts it; it rejoins --------------------------------------------
    step("the playbook restarts it; it rejoins")
    played(lab.playbook("site.yml", "--limit", leader), [leader])

    def all_members_healthy() -> bool:
        status = lab.store_members()
        return len(status) == 3 and all(not m["error"] for m in status)

    eventually(all_members_healthy, 120, f"{leader}'s store member to rejoin")
    eventually(lambda: len(running_pods(lab, "-n", "kube-system")) == 12, 180, "12 control-plane pods again")

    # ---- chaos over SSH: cut off, then freeze, the store leader; nothing is lost ------
    step("chaos over SSH: partition, then pause, the store leader; nothing is lost")
    report = lab.admin.parent / "chaos"
    done = run([*SKIFF, "--config", str(lab.admin), "chaos", "run", "--lab", NAME,
                "--scenario", "partition-leader,pause-leader", "--duration", "16", "--interval", "8",
                "--hold", "3", "--replicas", "1", "--seed", "3", "--settle", "1", "--report", str(report)],
               timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    chaos = json.loads((report / "report.json").read_text())
    assert chaos["ok"] is True and chaos["anomalies"] == 0 and chaos["faults"] == 2
    assert [f["scenario"] for f in chaos["fault_log"]] == ["partition-leader", "pause-leader"]
    assert not any("error" in f or "heal_error" in f for f in chaos["fault_log"])
    assert chaos["leader_changes"] >= 2  # cut off or frozen, the leader was replaced each time
    for master in ("m1", "m2", "m3"):  # every partition was healed
        assert lab.ssh(master, "nft list tables").stdout.strip() == ""

    # ---- reset.yml asks first, then empties the host -------------------------------------
    step("reset.yml asks first, then empties the host")
    unconfirmed = lab.playbook("reset.yml", "--limit", "n4")
    assert unconfirmed.returncode != 0 and "not confirmed" in unconfirmed.stdout
    assert lab.ssh("n4", "test -e /run/skiff/agent.pid && echo running").stdout.strip() == "running"
    played(lab.playbook("reset.yml", "--limit", "n4", "-e", "confirm=yes"), ["n4"])
    assert lab.ssh(
        "n4", "ls -A /opt /etc/skiff /var/lib/skiff | grep -v : | grep . || echo empty"
    ).stdout.split() == ["empty"]
