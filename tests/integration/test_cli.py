"""The kubectl-like `skiff` commands as real processes against real API servers on a real
3-member store: apply/get/describe/delete/scale, bad input, cordon/drain on hollow
nodes, API server + store member failover, cluster status, top."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from control_plane.api import paths
from control_plane.client.apiclient import ApiClient
from control_plane.client.errors import StatusError
from control_plane.devtools import procs
from control_plane.devtools.hollow import hollow_node, register
from tests.integration.controlplane import ControlPlane

PODS, NODES, DEPLOYMENTS = paths.resource("pods"), paths.resource("nodes"), paths.resource("deployments")
NAMESPACES, LEASES = paths.resource("namespaces"), paths.resource("leases")
Obj = dict[str, Any]

SHOP = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: process
        command: [python3, -m, http.server]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8000}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: shop, labels: {app: solo}}
spec:
  containers: [{name: c, image: process, command: [sleep, "1000"]}]
"""
GOOD_POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  containers: [{name: c, image: x}]\n"


def skiff(cp: ControlPlane, *args: str, stdin: str | None = None,
          timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run `skiff --config CP ARGS...` as a process; never a traceback, whatever happens."""
    done = subprocess.run([sys.executable, "-m", "control_plane.cli.main", "--config", str(cp.config_file),
                           *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def ok(cp: ControlPlane, *args: str, stdin: str | None = None) -> str:
    done = skiff(cp, *args, stdin=stdin)
    assert done.returncode == 0, f"skiff {' '.join(args)}: rc {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def one_error(done: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exactly one `error: ...` line on stderr; returns it."""
    assert done.returncode != 0, done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def exists(api: ApiClient, path: str) -> bool:
    try:
        api.get(path)
    except StatusError as err:
        assert err.code == 404, err
        return False
    return True


def pod_on(name: str, node: str, owned: bool = True, annotations: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name, "annotations": annotations or {}}
    if owned:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1234",
                                    "uid": "0b7a3f5e-0000-4000-8000-000000000001", "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": node,
                     "containers": [{"name": "c", "image": "process", "command": ["sleep", "1"]}]}}


def test_apply_get_describe_scale_delete(control_plane: ControlPlane, tmp_path: Path) -> None:
    cp = control_plane
    manifest = tmp_path / "shop.yaml"
    manifest.write_text(SHOP)
    watched = tmp_path / "watch.out"
    with watched.open("w") as out:
        watcher = subprocess.Popen([sys.executable, "-m", "control_plane.cli.main", "--config",
                                    str(cp.config_file), "get", "pods", "-A", "--watch"],
                                   stdout=out, stderr=subprocess.PIPE, text=True)
    try:
        procs.wait_for(lambda: "NAMESPACE" in watched.read_text(), 30, what="the watch's (empty) table")
        assert ok(cp, "apply", "-f", str(manifest)).splitlines() == [
            "namespace/shop created", "deployment.apps/web created", "service/web created",
            "pod/solo created"]
        procs.wait_for(lambda: "solo" in watched.read_text(), 30, what="the new pod in the watch")
        assert watched.read_text().splitlines()[1].split()[:4] == ["shop", "solo", "0/1", "Pending"]
    finally:
        watcher.send_signal(signal.SIGINT)  # our own child, by its PID: Ctrl-C ends a watch cleanly
        _, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0 and "Traceback" not in err, err
    assert ok(cp, "apply", "-f", str(manifest)).splitlines() == [
        "namespace/shop unchanged", "deployment.apps/web unchanged", "service/web unchanged",
        "pod/solo unchanged"]
    manifest.write_text(SHOP.replace("replicas: 2", "replicas: 3"))
    assert "deployment.apps/web configured" in ok(cp, "apply", "-f", str(manifest)).splitlines()
    from_stdin = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "piped"},
                             "spec": {"containers": [{"name": "c", "image": "x"}]}})
    assert ok(cp, "apply", "-f", "-", "-n", "shop", stdin=from_stdin).strip() == "pod/piped created"

    listed = json.loads(ok(cp, "get", "pods", "-n", "shop", "-o", "json"))
    assert listed["kind"] == "List" and listed["apiVersion"] == "v1"
    assert sorted(p["metadata"]["name"] for p in listed["items"]) == ["piped", "solo"]
    assert json.loads(ok(cp, "get", "pod/solo", "-n", "shop", "-o", "json"))["kind"] == "Pod"
    as_yaml = yaml.safe_load(ok(cp, "get", "pods", "-n", "shop", "-o", "yaml"))
    assert (as_yaml["kind"], as_yaml["apiVersion"]) == ("List", "v1")
    assert sorted(p["metadata"]["name"] for p in as_yaml["items"]) == ["piped", "solo"]
    assert yaml.safe_load(ok(cp, "get", "pod/solo", "-n", "shop", "-o", "yaml"))["metadata"]["name"] == "solo"
    table = ok(cp, "get", "deployments", "-A")
    assert table.split()[:7] == ["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "shop"]
    assert "web" in table and "0/3" in table
    pods_table = ok(cp, "get", "pods", "-n", "shop", "-o", "wide").splitlines()
    assert pods_table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert pods_table[2].split()[:3] == ["solo", "0/1", "Pending"]
    assert "80/TCP" in ok(cp, "get", "svc", "-n", "shop")
    assert "shop" in ok(cp, "get", "ns") and "Active" in ok(cp, "get", "ns")

    described = ok(cp, "describe", "deployment", "web", "-n", "shop")
    for expected in ("Name:", "web", "Namespace:", "shop", "Selector:", "app=web", "Replicas:", "3 desired",
                     "http.server", "Events:"):
        assert expected in described, described

    scaled = ok(cp, "scale", "deployment", "web", "-n", "shop", "--replicas", "5")
    assert scaled.strip() == "deployment.apps/web scaled"
    with cp.api() as api:
        assert api.get(paths.path(DEPLOYMENTS, "shop", "web"))["spec"]["replicas"] == 5
        deleted = ok(cp, "delete", "pod", "solo", "-n", "shop", "--grace-period", "0")
        assert deleted.strip() == 'pod "solo" deleted'
        assert not exists(api, paths.path(PODS, "shop", "solo"))
        missing = one_error(skiff(cp, "get", "pod", "solo", "-n", "shop"))
        assert missing == 'error: pods "solo" not found in namespace shop', missing
        gone = ok(cp, "delete", "-f", str(manifest), "--ignore-not-found").splitlines()
        assert gone == ['service "web" deleted', 'deployment.apps "web" deleted', 'namespace "shop" deleted']
        assert not exists(api, paths.path(NAMESPACES, None, "shop"))
    assert "not found" in one_error(skiff(cp, "delete", "deployment", "web", "-n", "shop"))
    assert "not found" in one_error(skiff(cp, "logs", "piped", "-n", "default"))  # deleted with its namespace


def test_bad_input_is_one_line_and_writes_nothing(control_plane: ControlPlane, tmp_path: Path) -> None:
    cp = control_plane
    cases = {
        "bad-yaml": ("good1", "kind: Pod\nmetadata: {name: bad\n  x: [\n", "invalid YAML at line"),
        "no-name": ("good2", "apiVersion: v1\nkind: Pod\nmetadata: {labels: {a: b}}\n", "no `metadata.name`"),
        "no-kind": ("good3", "apiVersion: v1\nmetadata: {name: x}\n", "`kind` is missing"),
        "unknown-kind": ("good4", "apiVersion: v1\nkind: Gadget\nmetadata: {name: g}\n",
                         'unknown kind "Gadget"'),
        "invalid": ("good5", "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers: \"x\"\n",
                    "spec.containers"),
        "wrong-namespace": ("good6", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: other}\n"
                            "spec:\n  containers: [{name: c, image: x}]\n",
                            'does not match the namespace "default"'),
    }
    for case, (good, broken, why) in cases.items():
        path = tmp_path / f"{case}.yaml"
        path.write_text(GOOD_POD % good + "---\n" + broken)
        extra = ["-n", "default"] if case == "wrong-namespace" else []
        line = one_error(skiff(cp, "apply", "-f", str(path), *extra))
        assert f"{path}: document 2" in line and why in line, (case, line)
    with cp.api() as api:
        left = [p["metadata"]["name"] for p in api.list(paths.path(PODS, "default"))["items"]]
        assert left == [], f"a rejected file wrote objects: {left}"

        # The server's own 422 (client-side validation off) names the field, in one line.
        path = tmp_path / "server-422.yaml"
        path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers: \"x\"\n")
        line = one_error(skiff(cp, "apply", "--no-validate", "-f", str(path)))
        assert 'Pod "bad" is invalid: spec.containers' in line, line
        # A namespace that does not exist is the server's 404, also one line.
        path.write_text(GOOD_POD.replace("{name: %s}", "{name: lost, namespace: nowhere}"))
        assert 'namespaces "nowhere" not found' in one_error(skiff(cp, "apply", "-f", str(path)))
        assert api.list(paths.path(PODS))["items"] == []
    assert "cannot read" in one_error(skiff(cp, "apply", "-f", str(tmp_path / "missing.yaml")))
    assert 'unknown resource type "gadgets"' in one_error(skiff(cp, "get", "gadgets"))


def test_cordon_uncordon_drain_hollow_nodes(control_plane: ControlPlane) -> None:
    cp = control_plane
    with cp.api() as api:
        for name in ("w1", "w2"):
            register(api, hollow_node(name))
        for pod in (pod_on("owned-0", "w1"), pod_on("owned-1", "w1"), pod_on("bare", "w1", owned=False),
                    pod_on("other", "w2")):
            api.create(paths.path(PODS, "default"), pod)
        api.create(paths.path(PODS, "kube-system"),
                   pod_on("static-w1", "w1", owned=False, annotations={"kubernetes.io/config.mirror": "abc"}))

        def unschedulable(node: str) -> bool:
            return bool(api.get(paths.path(NODES, None, node))["spec"].get("unschedulable"))

        def on_node(node: str) -> list[str]:
            return sorted(p["metadata"]["name"] for p in
                          api.list(paths.path(PODS), field=f"spec.nodeName={node}")["items"])

        assert ok(cp, "cordon", "w1").strip() == "node/w1 cordoned" and unschedulable("w1")
        assert ok(cp, "cordon", "w1").strip() == "node/w1 already cordoned"
        assert "Ready,SchedulingDisabled" in ok(cp, "get", "nodes")
        assert ok(cp, "uncordon", "w1").strip() == "node/w1 uncordoned" and not unschedulable("w1")

        # A pod nothing owns blocks the drain (it would be lost): nothing is evicted.
        refused = skiff(cp, "drain", "w1", "--grace-period", "0", "--timeout", "30")
        errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
        assert refused.returncode == 1 and len(errors) == 1, refused.stderr
        assert "default/bare" in errors[0] and "--force" in errors[0], errors
        assert "Warning: ignoring static (mirror) Pods: kube-system/static-w1" in refused.stderr
        assert on_node("w1") == ["bare", "owned-0", "owned-1", "static-w1"] and unschedulable("w1")

        drained = ok(cp, "drain", "w1", "--grace-period", "0", "--force", "--timeout", "60")
        for expected in ("node/w1 already cordoned", "pod/owned-0 evicted", "pod/owned-1 evicted",
                         "pod/bare evicted", "node/w1 drained"):
            assert expected in drained, drained
        assert on_node("w1") == ["static-w1"]  # the static pod stays with its node
        assert on_node("w2") == ["other"] and unschedulable("w1") and not unschedulable("w2")

        # Without an agent a graceful eviction only marks the pod: drain times out, clearly.
        late = skiff(cp, "drain", "w2", "--timeout", "3")
        assert late.returncode == 1, late.stderr
        assert "timed out" in late.stderr and "default/other" in late.stderr, late.stderr
        assert api.get(paths.path(PODS, "default", "other"))["metadata"].get("deletionTimestamp")
        assert "Terminating" in ok(cp, "get", "pods")
        assert "node/w1 uncordoned" in ok(cp, "uncordon", "w1")


def test_cli_survives_an_api_server_and_its_store_member_dying(control_plane: ControlPlane,
                                                               tmp_path: Path) -> None:
    cp = control_plane
    with cp.api() as api:
        register(api, hollow_node("w1"))
    first = cp.store.members[0]
    cp.kill(f"apiserver-{first.name}")  # the first URL in the config: every call meets it first
    cp.store.kill(first)
    cp.store.wait_ready(timeout=30)  # the remaining two elect a leader if the dead one led
    assert "w1" in ok(cp, "get", "nodes")
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(GOOD_POD % "after-failover")
    assert ok(cp, "apply", "-f", str(manifest)).strip() == "pod/after-failover created"
    with cp.api() as api:
        assert exists(api, paths.path(PODS, "default", "after-failover"))
    status = json.loads(ok(cp, "cluster", "status", "-o", "json", "--timeout", "10"))
    assert [a["ready"] for a in status["apiServers"]] == [False, True, True]
    members = status["store"]["members"]
    assert [m["reachable"] for m in members] == [False, True, True]
    assert members[0]["name"] == first.name and sum(m["leader"] for m in members) == 1


def test_cluster_status_top_nodes_and_tokens(control_plane: ControlPlane) -> None:
    cp = control_plane
    with cp.api() as api:
        register(api, hollow_node("busy", cpu="8", memory="16Gi", cpu_used=0.75, mem_used=0.5))
        register(api, hollow_node("idle", cpu="2", cpu_used=0.05, mem_used=0.1))
        silent = hollow_node("silent")
        del silent["status"]["usage"]
        register(api, silent)
        # Default (15 s) leases: a slow, shared machine must not make it step down mid-test.
        cp.start("sched-a", ["scheduler", "--identity", "sched-a"])
        procs.wait_for(lambda: exists(api, paths.path(LEASES, "kube-system", "kube-scheduler")), 60,
                       what="the scheduler's Lease")

    reports: list[Obj] = []

    def settled() -> bool:
        """A report with every part up and one leader (the store's 0.2-0.6 s election
        timeout can, on a loaded machine, briefly leave an old leader beside a new one)."""
        reports.append(json.loads(ok(cp, "cluster", "status", "-o", "json", "--timeout", "10")))
        members = reports[-1]["store"]["members"]
        return (len(members) == 3 and all(m["reachable"] for m in members)
                and sum(1 for m in members if m["leader"]) == 1)

    try:
        procs.wait_for(settled, 60, interval=1.0, what="a settled cluster status")
    except TimeoutError as err:
        raise AssertionError(f"{err}; last report: {reports[-1:]}") from None
    status = reports[-1]
    assert [a["ready"] for a in status["apiServers"]] == [True, True, True]
    members = status["store"]["members"]
    assert sorted(m["name"] for m in members) == sorted(m.name for m in cp.store.members)
    assert status["leases"]["kube-scheduler"]["holderIdentity"] == "sched-a"
    assert status["leases"]["kube-controller-manager"] is None
    shown = ok(cp, "cluster", "status", "--timeout", "10")
    assert "scheduler: sched-a" in shown and "controller-manager: <none>" in shown
    assert len([line for line in shown.splitlines() if "leader" in line.split()]) == 1, shown
    cp.stop("sched-a")  # now, while the API servers are up: its watches would hold up their shutdown

    rows = {line.split()[0]: line.split() for line in ok(cp, "top", "nodes").splitlines()}
    assert rows["NAME"] == ["NAME", "CPU%", "MEMORY%", "CPU(ALLOCATABLE)", "MEMORY(ALLOCATABLE)"]
    assert rows["busy"] == ["busy", "75%", "50%", "8", "16Gi"]
    assert rows["idle"] == ["idle", "5%", "10%", "2", "8Gi"]
    assert rows["silent"][1:3] == ["<unknown>", "<unknown>"]
    by_cpu = [line.split()[0] for line in ok(cp, "top", "nodes", "--sort-by", "cpu").splitlines()[1:]]
    assert by_cpu == ["busy", "idle", "silent"]
    as_json = json.loads(ok(cp, "top", "nodes", "busy", "-o", "json"))
    assert as_json == [{"name": "busy", "cpuFraction": 0.75, "memoryFraction": 0.5, "allocatableCpu": "8",
                        "allocatableMemory": "16Gi"}]
    wide = ok(cp, "get", "nodes", "-o", "wide")
    assert "CPU%" in wide and "75%" in wide

    # A bootstrap token from the CLI lets a new node get its own credential, once.
    made = json.loads(ok(cp, "token", "create", "--ttl", "600", "-o", "json"))
    assert made["kind"] == "BootstrapToken" and made["ttlSeconds"] == 600
    with ApiClient(cp.urls, made["token"], cp.ca) as boot:
        cred = boot.create("/apis/skiff.io/v1/nodecredentials", {"nodeName": "newnode"})
        assert cred["nodeName"] == "newnode" and cred["token"] != made["token"]
        try:
            boot.list(paths.path(paths.resource("pods")))
            raise AssertionError("a bootstrap token must not read pods")
        except StatusError as err:
            assert err.code == 403
    assert one_error(skiff(cp, "token", "create", "--ttl", "5")).count("ttlSeconds") == 1
