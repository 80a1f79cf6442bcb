"""Soak benchmark: churn on a `skiff up` cluster, and the memory of every component.

A Deployment is scaled between 2 and 12 replicas every few seconds; Leases are created
and deleted, Events posted, watches opened and closed, stand-alone pods created and
deleted.  Every minute the resident memory (RSS) of each component's process is sampled:
store members, API servers, schedulers, controller managers (the static pods, found
through each master's runtime state) and the agents (by pidfile).  After the warm-up,
RSS should stay within 10 % (`growth_pct` per component, measured from the end of the
warm-up to the end of the run).  No anchor: this is Skiff against itself over time.

    .venv/bin/python bench/soak.py [--minutes 30] [--warmup 5] [--out bench/results/soak.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from control_plane.api import paths
from control_plane.api.objects import is_node_ready
from control_plane.client.apiclient import ApiClient
from control_plane.client.config import load
from control_plane.client.errors import ApiClientError
from control_plane.devtools import procs
from control_plane.devtools.localcluster import LocalCluster
from node_agent.runtime.process import ProcessRuntime

ROOT = Path(__file__).resolve().parent.parent
console = Console(stderr=True)
Json = dict[str, Any]
DEPLOYMENTS, PODS = paths.resource("deployments"), paths.resource("pods")
LEASES, EVENTS = paths.resource("leases"), paths.resource("events")
COMPONENTS = ("store", "apiserver", "scheduler", "controller-manager")


def deployment(replicas: int) -> Json:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "churn"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "churn"}},
                     "template": {"metadata": {"labels": {"app": "churn"}}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "c", "image": "process", "command": ["sleep", "3600"],
                                         "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}}}]}}}}


def processes(local: LocalCluster) -> dict[str, psutil.Process]:
    """`<component>-<host>` -> its process, for every component running now."""
    found: dict[str, psutil.Process] = {}
    for host in local.hosts:
        agent = procs.read(local.agent_pidfile(host))
        if agent is not None:
            found[f"agent-{host.name}"] = agent
        runtime = ProcessRuntime(local.home(host) / "var/lib/skiff/containers")
        for uid, name in runtime.containers():
            state = runtime.status(uid, name)
            if name in COMPONENTS and state is not None and state.pid is not None:
                with contextlib.suppress(psutil.Error):
                    found[f"{name}-{host.name}"] = psutil.Process(state.pid)
    return found


def rss_mb(found: dict[str, psutil.Process]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, proc in found.items():
        try:
            out[name] = round(proc.memory_info().rss / 2**20, 1)
        except psutil.Error:
            continue
    return out


def wait_ready(api: ApiClient, hosts: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            nodes = api.list(paths.path(paths.resource("nodes")))["items"]
            if sum(1 for n in nodes if is_node_ready(n)) == hosts:
                return
        except ApiClientError:
            pass
        time.sleep(2)
    raise TimeoutError(f"the cluster's {hosts} nodes were not Ready within {timeout:.0f} s")


def churn_once(api: ApiClient, rng: random.Random, n: int) -> None:
    """One round of churn; every call is independent (a failure is counted, not fatal)."""
    scale = {"spec": {"replicas": rng.randint(2, 12)}}
    api.replace(paths.path(DEPLOYMENTS, "default", "churn", "scale"), scale)
    lease = {"metadata": {"name": f"soak-{n}"},
             "spec": {"holderIdentity": "soak", "leaseDurationSeconds": 10}}
    api.create(paths.path(LEASES, "default"), lease)
    api.delete(paths.path(LEASES, "default", f"soak-{n}"))
    api.create(paths.path(EVENTS, "default"), {
        "metadata": {"generateName": "soak-"}, "type": "Normal", "reason": "Soak", "message": f"round {n}",
        "involvedObject": {"kind": "Deployment", "namespace": "default", "name": "churn"}})
    pod = {"metadata": {"name": f"solo-{n}"}, "spec": {"terminationGracePeriodSeconds": 0, "containers": [
        {"name": "c", "image": "process", "command": ["sleep", "5"]}]}}
    api.create(paths.path(PODS, "default"), pod)
    if n > 2:
        with contextlib.suppress(ApiClientError):
            api.delete(paths.path(PODS, "default", f"solo-{n - 2}"), grace=0)
    for _ in api.watch(paths.path(PODS, "default"), None, timeout_seconds=1):
        pass  # a watch opened, read and closed by the server


def soak(minutes: float, warmup: float, period: float) -> Json:
    base = Path(tempfile.mkdtemp(prefix="skiff-soak-"))
    local = LocalCluster(base / "cluster", 3, 2, subnet="127.0.94")
    samples: list[Json] = []
    failures = rounds = 0
    try:
        local.create()
        local.start()
        api = load(local.config_file).client(timeout=30)
        wait_ready(api, len(local.hosts))
        api.create(paths.path(DEPLOYMENTS, "default"), deployment(2))
        rng, start = random.Random(7), time.monotonic()
        next_sample = start
        while (elapsed := time.monotonic() - start) < minutes * 60:
            if time.monotonic() >= next_sample:
                samples.append({"minute": round(elapsed / 60, 2), "rss_mb": rss_mb(processes(local))})
                console.print(f"[dim]{elapsed / 60:5.1f} min[/dim] {rounds} rounds, {failures} failed calls; "
                              f"RSS sampled for {len(samples[-1]['rss_mb'])} processes", highlight=False)
                next_sample += 60
            rounds += 1
            try:
                churn_once(api, rng, rounds)
            except ApiClientError as err:
                failures += 1
                console.print(f"round {rounds}: {err.message}", highlight=False)
            time.sleep(period)
        end = round((time.monotonic() - start) / 60, 2)
        samples.append({"minute": end, "rss_mb": rss_mb(processes(local))})
        api.close()
    finally:
        local.discover()
        local.down()
    return summarise(samples, warmup, rounds, failures, minutes)


def summarise(samples: list[Json], warmup: float, rounds: int, failures: int, minutes: float) -> Json:
    after = [s for s in samples if s["minute"] >= warmup] or samples[-1:]
    first, last = after[0]["rss_mb"], samples[-1]["rss_mb"]
    components = {}
    for name in sorted(set(first) & set(last)):
        growth = (last[name] - first[name]) / first[name] * 100 if first[name] else 0.0
        peak = max(s["rss_mb"].get(name, 0) for s in samples)
        components[name] = {"rss_mb_after_warmup": first[name], "rss_mb_end": last[name],
                            "growth_pct": round(growth, 1), "max_mb": peak}
    return {"minutes": minutes, "warmup_minutes": warmup, "rounds": rounds, "failed_calls": failures,
            "target_growth_pct": 10, "components": components, "samples": samples,
            "date": time.strftime("%Y-%m-%d"), "machine": f"{psutil.cpu_count()} cores"}


def show(result: Json) -> None:
    table = Table(title=f"soak: {result['minutes']} min of churn, {result['rounds']} rounds "
                        f"({result['failed_calls']} failed calls)")
    for col in ("component", "RSS after warm-up (MB)", "RSS at end (MB)", "growth", "max (MB)"):
        table.add_column(col, justify="left" if col == "component" else "right")
    for name, c in result["components"].items():
        table.add_row(name, f"{c['rss_mb_after_warmup']:.1f}", f"{c['rss_mb_end']:.1f}",
                      f"{c['growth_pct']:+.1f} %", f"{c['max_mb']:.1f}")
    Console().print(table)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=5.0, help="minutes before growth is measured")
    ap.add_argument("--period", type=float, default=2.0, help="seconds between churn rounds")
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/soak.json")
    args = ap.parse_args()
    result = soak(args.minutes, min(args.warmup, args.minutes / 2), args.period)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    show(result)
    console.print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
