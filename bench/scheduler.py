"""Scheduler benchmark: 3 masters on loopback, hollow nodes, thousands of pods.

A real 3-member store, three API servers (HTTPS) and one `skiff scheduler` process;
N hollow nodes (simulated capacity and usage, labelled `skiff.io/hollow=true`, no
agent) registered through the API; then P pods created through the API by a pool of
client threads spread over the three API servers.  Reports:

- end to end: pods/s from the first create to the last pod seen bound (by a watch);
- in process: scheduler decisions/s of the plugin pipeline over the same node count
  (no I/O), with Kubernetes' adaptive percentageOfNodesToScore and with every node;
- latency p50/p99 of the mutating API calls (pod creates) made during the run.

    .venv/bin/python bench/scheduler.py [--nodes 1000] [--pods 5000] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from control_plane.api import paths
from control_plane.client.apiclient import ApiClient
from control_plane.client.informer import Informer
from control_plane.devtools import procs
from control_plane.devtools.hollow import hollow_node, register
from control_plane.devtools.storecluster import LocalStore
from control_plane.scheduler.framework import feasible_nodes_to_find, schedule
from control_plane.scheduler.view import NodeView, PodView
from tests.integration.controlplane import ControlPlane

PODS = paths.resource("pods")
Obj = dict[str, Any]


def pod(i: int) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"bench-{i}", "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "c", "image": "process", "command": ["sleep", "3600"],
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def in_process(nodes: int, pods: int = 2000) -> Obj:
    """Decisions/s of the pure pipeline over `nodes` node views."""
    views = [NodeView.from_object(hollow_node(f"n{i}", cpu_used=(i % 10) / 10)) for i in range(nodes)]
    pod_views = [PodView.from_object(pod(i)) for i in range(pods)]
    out = {}
    for label, limit in (("adaptive", feasible_nodes_to_find(nodes)), ("all_nodes", None)):
        started = time.perf_counter()
        start = 0
        for p in pod_views:
            d = schedule(p, views, limit=limit, start=start)
            start += d.examined
            assert d.node is not None
            views[int(d.node[1:])].add_pod(p)
        elapsed = time.perf_counter() - started
        out[label] = {"decisions_per_s": pods / elapsed, "nodes_examined": limit or nodes}
    return out


def end_to_end(cp: ControlPlane, nodes: int, pods: int, threads: int, console: Console) -> Obj:
    clients = [ApiClient([u], cp.admin_token, cp.ca, timeout=30) for u in cp.urls]
    try:
        t0 = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda i: register(clients[i % len(clients)], hollow_node(f"node-{i:04d}")),
                          range(nodes)))
        console.print(f"registered {nodes} hollow nodes in {time.monotonic() - t0:.1f}s")
        bound_at: dict[str, float] = {}
        lock = threading.Lock()

        def on_pod(kind: str, obj: Obj) -> None:
            if kind != "DELETED" and (obj.get("spec") or {}).get("nodeName"):
                with lock:
                    bound_at.setdefault(obj["metadata"]["name"], time.monotonic())

        watcher = Informer(clients[-1], PODS, namespace="default", handler=on_pod).start()
        watcher.synced.wait(30)
        cp.start("scheduler", ["scheduler", "--leader-elect-lease-duration", "4",
                               "--leader-elect-renew-deadline", "3", "--leader-elect-retry-period", "0.5"])
        time.sleep(3)  # the scheduler's informers list the nodes before the clock starts
        latencies: list[float] = []

        def create(i: int) -> None:
            started = time.monotonic()
            clients[i % len(clients)].create(paths.path(PODS, "default"), pod(i))
            with lock:
                latencies.append(time.monotonic() - started)

        start = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(create, range(pods)))
        created = time.monotonic() - start
        console.print(f"created {pods} pods in {created:.1f}s; waiting for bindings")
        procs.wait_for(lambda: len(bound_at) >= pods, 600, interval=0.5, what="all pods bound")
        watcher.stop()
        total = max(bound_at.values()) - start
        return {"pods_per_s": pods / total, "seconds": total, "create_seconds": created,
                "create_p50_ms": 1000 * percentile(latencies, 0.5),
                "create_p99_ms": 1000 * percentile(latencies, 0.99),
                "create_mean_ms": 1000 * statistics.fmean(latencies)}
    finally:
        for c in clients:
            c.close()


def cpu_seconds(store: LocalStore, cp: ControlPlane) -> dict[str, float]:
    """CPU time (user + system) each process has used so far: where the cores went."""
    files = {m.name: store.pidfile(m) for m in store.members} | dict(cp.pidfiles)
    out = {}
    for name, pidfile in files.items():
        proc = procs.read(pidfile)
        if proc is not None:
            t = proc.cpu_times()
            out[name] = round(t.user + t.system, 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--pods", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=24)
    ap.add_argument("--out", type=Path, default=Path("bench/results/scheduler.json"))
    args = ap.parse_args()
    console = Console()
    report: Obj = {"nodes": args.nodes, "pods": args.pods, "machine_cpus": __import__("os").cpu_count(),
                   "in_process": in_process(args.nodes)}
    root = Path(tempfile.mkdtemp(prefix="skiff-bench-sched-"))
    store = LocalStore(root / "store", 3, subnet="127.0.9")
    cp: ControlPlane | None = None
    try:
        store.start()
        store.wait_ready(timeout=60)
        cp = ControlPlane(store, root / "cp")
        cp.start_apiservers(3)
        report["end_to_end"] = end_to_end(cp, args.nodes, args.pods, args.threads, console)
        report["cpu_seconds"] = cpu_seconds(store, cp)
    finally:
        if cp is not None:
            cp.close()
        store.stop()
        shutil.rmtree(root, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(console, report)
    console.print(f"written: {args.out}")
    return 0


def print_table(console: Console, report: Obj) -> None:
    e2e, ip = report["end_to_end"], report["in_process"]
    table = Table(title=f"Skiff scheduler: {report['nodes']} hollow nodes, {report['pods']} pods, "
                        f"3 masters on loopback ({report['machine_cpus']} CPUs)")
    table.add_column("measure")
    table.add_column("Skiff", justify="right")
    table.add_column("target", justify="right")
    table.add_column("Kubernetes reference", justify="right")
    table.add_row("end to end pods/s (create → bound)", f"{e2e['pods_per_s']:.0f}", "≥ 300",
                  "~100 at 5,000 nodes")
    table.add_row("in-process decisions/s (adaptive %)", f"{ip['adaptive']['decisions_per_s']:.0f}", "",
                  "680-810 floor")
    table.add_row("in-process decisions/s (all nodes)", f"{ip['all_nodes']['decisions_per_s']:.0f}", "", "")
    table.add_row("mutating calls p50 / p99 ms", f"{e2e['create_p50_ms']:.0f} / {e2e['create_p99_ms']:.0f}",
                  "p99 < 100", "SLO p99 ≤ 1000")
    console.print(table)
    cpu = report["cpu_seconds"]
    console.print("CPU seconds by process: " + ", ".join(f"{k} {v}" for k, v in cpu.items()))


if __name__ == "__main__":
    raise SystemExit(main())
