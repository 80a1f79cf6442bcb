"""`skiff up` end to end on loopback: 3 masters and 2 workers as directory hosts with
their own addresses, the control plane as static pods, real agents, real processes.

One cluster (the session's `local_cluster`, shared with `test_chaos`: it takes a while
to start on 2 cores).  Each test passes alone and in any order: what a test needs (a
ready cluster, the `hello` deployment) is a fixture, and a test that changes the cluster
puts it back (drain uncordons; `skiff down` is followed by `skiff up`, which restarts the
cluster from its data)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from control_plane.devtools import procs
from control_plane.devtools.localcluster import LocalCluster
from tests.integration.needs import need

SKIFF = [sys.executable, "-m", "control_plane.cli.main"]
Obj = dict[str, Any]
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 6
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: hello
        image: process
        command: [python3, -u, -c, "import os, time; print('hello from', os.environ['POD']); time.sleep(999)"]
        env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
        resources: {requests: {cpu: 50m, memory: 32Mi}}
"""
HOG = """
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  nodeName: w1
  restartPolicy: Never
  containers:
  - name: hog
    image: process
    command: [python3, -c, "x = bytearray(300 * 1024 * 1024); print(len(x))"]
    resources: {limits: {memory: 64Mi}}
"""


def skiff(cluster: Path, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
    done = subprocess.run(
        [*SKIFF, "--config", str(cluster / "config"), *args],
        input=stdin,
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"skiff {' '.join(args)}: {done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout


def items(cluster: Path, *args: str) -> list[Obj]:
    return list(json.loads(skiff(cluster, "get", *args, "-o", "json"))["items"])


def wait(what: str, check: Any, timeout: float = 120) -> None:
    procs.wait_for(check, timeout, interval=1.0, what=what)


def ready_nodes(cluster: Path) -> int:
    return sum(1 for n in items(cluster, "nodes") for c in n["status"].get("conditions") or []
               if c["type"] == "Ready" and c["status"] == "True")


def running_pods(cluster: Path, *args: str) -> list[Obj]:
    return [p for p in items(cluster, "pods", *args)
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]


def wait_ready(cluster: Path, timeout: float = 240) -> None:
    wait("5 nodes Ready and 12 control-plane pods Running",
         lambda: ready_nodes(cluster) == 5 and len(running_pods(cluster, "-n", "kube-system")) == 12, timeout)


@pytest.fixture(scope="module")
def cluster(local_cluster: Path) -> Path:
    wait_ready(local_cluster)
    return local_cluster


@pytest.fixture(scope="module")
def hello(cluster: Path) -> Path:
    """The `hello` deployment, 6 pods Running on the workers (created once per module)."""
    skiff(cluster, "apply", "-f", "-", stdin=DEPLOYMENT)
    wait("6 hello pods Running", lambda: len(running_pods(cluster, "-l", "app=hello")) == 6, 180)
    return cluster


def test_up_gives_five_ready_nodes_and_twelve_control_plane_pods(cluster: Path) -> None:
    for node in items(cluster, "nodes"):
        status = node["status"]
        assert int(status["capacity"]["cpu"]) == psutil.cpu_count()
        assert status["capacity"]["memory"] == f"{psutil.virtual_memory().total // 1024}Ki"
        assert 0 <= status["usage"]["cpuFraction"] <= 1 and status["usage"]["memoryUsedBytes"] > 0
    masters = [n for n in items(cluster, "nodes") if n["metadata"]["name"].startswith("m")]
    assert all(
        t["key"] == "node-role.kubernetes.io/control-plane" for m in masters for t in m["spec"]["taints"]
    )
    names = sorted(p["metadata"]["name"] for p in items(cluster, "pods", "-n", "kube-system"))
    assert names == sorted(
        f"{c}-m{i}" for c in ("apiserver", "controller-manager", "scheduler", "store") for i in (1, 2, 3)
    )


def test_deployment_lands_on_workers_and_logs_show(hello: Path) -> None:
    assert "deployment.apps/hello" in skiff(hello, "apply", "-f", "-", stdin=DEPLOYMENT)  # idempotent
    pods = running_pods(hello, "-l", "app=hello")
    assert len(pods) == 6 and {p["spec"]["nodeName"] for p in pods} <= {"w1", "w2"}
    name = pods[0]["metadata"]["name"]
    wait("the pod's output in its logs", lambda: f"hello from {name}" in skiff(hello, "logs", name), 60)
def test_memory_limit_breach_is_oomkilled(cluster: Path) -> None:
    home = cluster / "hosts" / "w1"
    caps = json.loads(skiff(cluster, "get", "node", "w1", "-o", "json"))["status"]["conditions"]
    limits = next(c for c in caps if c["type"] == "ResourceLimits")
    need(limits["status"] == "True", f"cgroups are not usable: {limits['message']} ({home})")
    skiff(cluster, "apply", "-f", "-", stdin=HOG)

    def terminated() -> Obj | None:
        statuses = (
            json.loads(skiff(cluster, "get", "pod", "hog", "-o", "json"))["status"].get("containerStatuses")
            or []
        )
        return next((s["state"]["terminated"] for s in statuses if "terminated" in s.get("state", {})), None)

    wait("the hog to be terminated", terminated, 60)
    assert terminated()["reason"] == "OOMKilled"  # type: ignore[index]
    assert json.loads(skiff(cluster, "get", "pod", "hog", "-o", "json"))["status"]["phase"] == "Failed"


def test_up_on_a_running_cluster_says_so(cluster: Path) -> None:
    done = subprocess.run([*SKIFF, "up", "--dir", str(cluster)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "already running" in done.stderr and "Traceback" not in done.stderr


def _runtime_pids(cluster: Path, host: str) -> dict[tuple[str, str], int | None]:
    from node_agent.runtime.process import ProcessRuntime

    runtime = ProcessRuntime(cluster / "hosts" / host / "var/lib/skiff/containers")
    states = {c: runtime.status(*c) for c in runtime.containers()}
    return {c: s.pid for c, s in states.items() if s is not None and s.state == "running"}


def _restarts(cluster: Path, node: str) -> dict[str, int]:
    """Pod uid (the runtime's pod directory) -> its containers' restarts, on `node`."""
    return {p["metadata"]["uid"]: sum(cs["restartCount"] for cs in p["status"].get("containerStatuses") or [])
            for p in items(cluster, "pods", "-l", "app=hello") if p["spec"].get("nodeName") == node}


def test_agent_restart_neither_kills_nor_restarts_pods(hello: Path) -> None:
    local = LocalCluster(hello, 0, 0)
    local.discover()
    w2 = next(h for h in local.hosts if h.name == "w2")
    before = _runtime_pids(hello, "w2")
    assert before, "w2 runs pods"
    restarts = _restarts(hello, "w2")
    procs.kill(local.agent_pidfile(w2))  # kill -9: no chance to clean anything up
    assert _runtime_pids(hello, "w2") == before  # the pods did not die with it
    local.start()  # only the agent that is not running
    wait("w2's agent back", lambda: procs.read(local.agent_pidfile(w2)) is not None, 30)
    # Positive control: the new agent does sync its pods.  One container is killed; the
    # agent must notice and restart it (restartCount + 1) while the others keep their
    # processes and counts: re-adopted, not restarted.
    (victim_key, victim_pid), *others = sorted(before.items())
    assert victim_pid is not None
    os.kill(victim_pid, signal.SIGKILL)
    victim_pod = victim_key[0]
    assert victim_pod in restarts, (victim_key, restarts)
    wait("the new agent to restart the killed container",
         lambda: sum(_restarts(hello, "w2").values()) == sum(restarts.values()) + 1, 60)
    after = _runtime_pids(hello, "w2")
    assert {k: after.get(k) for k, _ in others} == dict(others)  # re-adopted: same processes
    counts = _restarts(hello, "w2")
    assert {n: c for n, c in counts.items() if n != victim_pod} == \
        {n: c for n, c in restarts.items() if n != victim_pod}


LIVENESS = """
apiVersion: v1
kind: Pod
metadata: {name: sick}
spec:
  nodeName: w2
  containers:
  - name: sick
    image: process
    command: [sleep, "999"]
    livenessProbe: {exec: {command: ["false"]}, periodSeconds: 1, failureThreshold: 2}
"""


def test_failing_liveness_probe_restarts_the_container(cluster: Path) -> None:
    skiff(cluster, "apply", "-f", "-", stdin=LIVENESS)

    def restarted() -> bool:
        pod = json.loads(skiff(cluster, "get", "pod", "sick", "-o", "json"))
        statuses = pod["status"].get("containerStatuses") or []
        return (
            bool(statuses) and statuses[0]["restartCount"] >= 1 and "terminated" in statuses[0]["lastState"]
        )

    wait("the sick container restarted by its liveness probe", restarted, 90)
    skiff(cluster, "delete", "pod", "sick", "--grace-period", "0")


def test_drain_moves_pods_and_loses_nothing(hello: Path) -> None:
    try:
        out = skiff(hello, "drain", "w1", "--grace-period", "2", "--timeout", "120", timeout=180)
        assert "drained" in out
        node = json.loads(skiff(hello, "get", "node", "w1", "-o", "json"))
        assert node["spec"]["unschedulable"] is True

        def moved() -> bool:
            pods = [p for p in items(hello, "pods", "-l", "app=hello")
                    if not p["metadata"].get("deletionTimestamp")]
            return len(pods) == 6 and all(
                p["spec"].get("nodeName") == "w2" and p["status"].get("phase") == "Running" for p in pods
            )

        wait("6 hello pods Running on w2", moved, 180)
    finally:
        skiff(hello, "uncordon", "w1")


def test_down_leaves_no_process_and_up_restarts_from_data(hello: Path) -> None:
    local = LocalCluster(hello, 0, 0)
    local.discover()
    pids = [procs.read(local.agent_pidfile(h)) for h in local.hosts]
    assert all(p is not None for p in pids)
    done = subprocess.run([*SKIFF, "down", "--dir", str(hello)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    # `skiff down` returns once everything is gone: checked at once, no grace given.
    assert not local.running()
    leftovers = [
        p.pid for p in psutil.process_iter(["cmdline"]) if str(hello) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == [], leftovers
    # Up again from the same directory: the same cluster, its objects kept in the store.
    done = subprocess.run([*SKIFF, "up", "--dir", str(hello)], capture_output=True, text=True, timeout=400)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert "cluster is up" in done.stdout and "w2" in done.stdout, done.stdout  # it waited, then showed nodes
    wait_ready(hello)
    wait("6 hello pods Running again", lambda: len(running_pods(hello, "-l", "app=hello")) == 6, 180)


def test_a_deleted_mirror_pod_comes_back_and_its_static_pod_keeps_running(cluster: Path) -> None:
    # The API's copy of a static pod is only a mirror: deleting it does not stop the pod,
    # and the agent creates the mirror again (the kubelet's behaviour).
    name = "scheduler-m1"
    before = json.loads(skiff(cluster, "get", "pod", name, "-n", "kube-system", "-o", "json"))
    pids = {k: v for k, v in _runtime_pids(cluster, "m1").items() if k[1] == "scheduler"}
    assert pids, "m1 runs its scheduler"
    skiff(cluster, "delete", "pod", name, "-n", "kube-system")

    def recreated() -> bool:
        done = subprocess.run([*SKIFF, "--config", str(cluster / "config"), "get", "pod", name, "-n",
                               "kube-system", "-o", "json"], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            return False
        pod = json.loads(done.stdout)
        return bool(pod["metadata"]["uid"] != before["metadata"]["uid"]
                    and pod["status"].get("phase") == "Running")

    wait("the mirror pod created again and Running", recreated, 90)
    after = {k: v for k, v in _runtime_pids(cluster, "m1").items() if k[1] == "scheduler"}
    assert after == pids  # the static pod itself never stopped
