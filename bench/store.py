"""Store benchmark: Skiff's store against Debian's etcd-server, same client, same run.

3 members on loopback each; 100-byte values; puts at concurrency 1, 16, 64; linearizable
and serializable reads at 16; failover (kill -9 the leader, time to the first write sent
after the kill that is acknowledged) over N kills.  Workloads alternate between the two
stores round by round so machine noise hits both alike.  Writes JSON and prints a table.

    .venv/bin/python bench/store.py [--rounds 2] [--seconds 5] [--kills 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from bench.httpload import Result, run_load
from control_plane.devtools.storecluster import LocalCluster, LocalEtcd, LocalStore
from raftstore.client import StoreClient

VALUE = base64.b64encode(b"v" * 100).decode()
Json = dict[str, Any]


def put_req(w: int, n: int) -> tuple[str, Json]:
    key = base64.b64encode(f"/bench/{w}/{n % 1000}".encode()).decode()
    return "/v3/kv/put", {"key": key, "value": VALUE}


def range_req(serializable: bool) -> Any:
    def make(w: int, n: int) -> tuple[str, Json]:
        key = base64.b64encode(f"/bench/{w % 16}/{n % 100}".encode()).decode()
        body: Json = {"key": key}
        if serializable:
            body["serializable"] = True
        return "/v3/kv/range", body
    return make


WORKLOADS = [
    ("put c=1", put_req, 1),
    ("put c=16", put_req, 16),
    ("put c=64", put_req, 64),
    ("range linearizable c=16", range_req(False), 16),
    ("range serializable c=16", range_req(True), 16),
]


def measure_failover(cluster: LocalCluster) -> float:
    """Kill -9 the leader under a sequential write load; seconds to the first ack after it."""
    leader = cluster.wait_ready(timeout=60)
    with StoreClient(cluster.endpoints, timeout=10, attempt_timeout=1.0) as c:
        acks: list[tuple[float, float]] = []  # (sent, acknowledged)
        stop = threading.Event()

        def writer() -> None:
            n = 0
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    c.put(f"/failover/{n}".encode(), b"x")
                    acks.append((sent, time.monotonic()))
                except Exception:
                    pass
                n += 1

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        time.sleep(0.5)
        killed = time.monotonic()
        cluster.kill(leader)
        deadline = killed + 30
        while time.monotonic() < deadline and not any(s > killed for s, _ in acks):
            time.sleep(0.01)
        stop.set()
        t.join(15)
        after = [a for s, a in acks if s > killed]
    cluster.start(leader)
    cluster.wait_ready(timeout=60)
    time.sleep(1.0)  # let the restarted member catch up before the next kill
    return round(after[0] - killed, 3) if after else float("inf")


def merge(results: list[Result]) -> Json:
    total = Result()
    for r in results:
        total.ops += r.ops
        total.errors += r.errors
        total.latencies += r.latencies
        total.seconds += r.seconds
    return total.summary()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("bench/results/store.json"))
    ap.add_argument("--no-etcd", action="store_true", help="measure Skiff only")
    args = ap.parse_args()
    console = Console(width=140)
    base = Path(tempfile.mkdtemp(prefix="skiff-bench-"))
    clusters: dict[str, LocalCluster] = {"skiff": LocalStore(base / "skiff", 3, subnet="127.0.7")}
    if not args.no_etcd:
        if shutil.which("etcd") is None:
            console.print("[yellow]etcd not installed: measuring Skiff only (make bench installs it as root)")
        else:
            clusters["etcd"] = LocalEtcd(base / "etcd", 3, subnet="127.0.8")
    raw: dict[str, dict[str, list[Result]]] = {n: {w[0]: [] for w in WORKLOADS} for n in clusters}
    failover: dict[str, list[float]] = {n: [] for n in clusters}
    try:
        for cluster in clusters.values():
            cluster.start()
            cluster.wait_ready(timeout=60)
        for rnd in range(args.rounds):
            order = list(clusters) if rnd % 2 == 0 else list(reversed(clusters))
            for wl_name, maker, conc in WORKLOADS:
                for name in order:
                    res = asyncio.run(run_load(clusters[name].endpoints, conc, args.seconds, maker))
                    raw[name][wl_name].append(res)
                    console.print(f"round {rnd + 1} {name:5} {wl_name:26} {res.summary()}")
        for k in range(args.kills):
            for name in clusters:
                secs = measure_failover(clusters[name])
                failover[name].append(secs)
                console.print(f"kill {k + 1} {name:5} failover {secs:.3f}s")
    finally:
        for cluster in clusters.values():
            cluster.stop()
        shutil.rmtree(base, ignore_errors=True)

    report: Json = {"machine": {"cores": __import__("os").cpu_count()}, "rounds": args.rounds,
                    "seconds_per_run": args.seconds, "value_bytes": 100, "results": {}, "failover": {}}
    for name in clusters:
        report["results"][name] = {wl: merge(rs) for wl, rs in raw[name].items()}
        f = failover[name]
        report["failover"][name] = {"kills": len(f), "seconds": f,
                                    "median_s": statistics.median(f) if f else None,
                                    "max_s": max(f) if f else None}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(console, report)
    console.print(f"written: {args.out}")
    return 0


def print_table(console: Console, report: Json) -> None:
    names = list(report["results"])
    table = Table(title="Skiff store vs etcd 3.4 (3 members on loopback, 100-byte values)")
    table.add_column("workload")
    for n in names:
        table.add_column(f"{n} ops/s", justify="right")
        table.add_column(f"{n} p50/p99 ms", justify="right")
    if "etcd" in names:
        table.add_column("skiff/etcd ops", justify="right")
    for wl, _, _ in WORKLOADS:
        row = [wl]
        for n in names:
            r = report["results"][n][wl]
            row += [f"{r['ops_per_s']:.0f}", f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f}"]
        if "etcd" in names:
            e = report["results"]["etcd"][wl]["ops_per_s"]
            row.append(f"{report['results']['skiff'][wl]['ops_per_s'] / e:.2f}" if e else "-")
        table.add_row(*row)
    fo = ["failover (median / max s)"]
    for n in names:
        f = report["failover"][n]
        fo += ["", f"{f['median_s']} / {f['max_s']}" if f["kills"] else "-"]
    if "etcd" in names:
        s, e = report["failover"]["skiff"]["median_s"], report["failover"]["etcd"]["median_s"]
        fo.append(f"{s / e:.2f}" if s and e else "-")
    table.add_row(*fo)
    console.print(table)


if __name__ == "__main__":
    raise SystemExit(main())
