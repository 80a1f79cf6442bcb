"""One chaos run: set up the workload, inject faults on a schedule while the clients
run, heal, then check everything and write the report.

Schedule: every `interval` seconds a fault of the scenario (or of the next scenario of
a comma-separated list, in turn) is injected, held for
`hold` seconds and healed; after the last cycle the clients run `settle` seconds more
on the healed cluster.  Every wait has a deadline; a cluster that does not recover in
`recover_timeout` seconds is itself a failed check, never a hang.
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from control_plane.api import paths
from control_plane.client.apiclient import ApiClient
from control_plane.client.config import load as load_config
from control_plane.client.errors import ApiClientError, StatusError
from control_plane.devtools.chaos import checks, linearizable
from control_plane.devtools.chaos.checks import Anomaly
from control_plane.devtools.chaos.history import History
from control_plane.devtools.chaos.hostops import HostFaultError
from control_plane.devtools.chaos.scenarios import Fault, plan, store_leader
from control_plane.devtools.chaos.targets import NotSupported, Target
from control_plane.devtools.chaos.workload import (
    LEASES,
    ApiWorker,
    StoreKeys,
    StoreWorker,
    Watcher,
    holder,
    read_history,
)
from raftstore.client import StoreClient, prefix_end

Progress = Callable[[str], None]
NAMESPACE = "skiff-chaos"
DEPLOYMENT = "chaos-workload"
WARMUP = 2.0


@dataclass
class RunConfig:
    scenario: str
    duration: float = 120.0
    interval: float = 10.0
    hold: float = 3.0
    seed: int = 0
    store_clients: int = 4
    api_clients: int = 2
    keys: int = 4
    leases: int = 2
    settle: float = 3.0
    op_timeout: float = 1.0
    replicas: int = 2
    recover_timeout: float = 120.0


@dataclass
class Outcome:
    """Everything the report is made of."""

    config: RunConfig
    history: History
    faults: list[dict[str, Any]] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    verdicts: list[linearizable.KeyVerdict] = field(default_factory=list)
    convergence: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    elapsed: float = 0.0


class Run:
    def __init__(self, target: Target, cfg: RunConfig, progress: Progress = lambda _: None) -> None:
        self.target, self.cfg, self.progress = target, cfg, progress
        self.rng = random.Random(cfg.seed)
        self.history = History()
        self.t0 = time.monotonic()
        self.endpoints = list(target.store_endpoints().values())
        self.keys = StoreKeys(f"/skiff-chaos/{int(time.time())}-{cfg.seed}/", cfg.keys)
        config = target.admin_config()
        self.api_config = load_config(config) if config is not None else None
        self.lease_names = [f"chaos-{i}" for i in range(cfg.leases)]
        self.initial: dict[str, str | None] = {}
        self.stop = threading.Event()

    def clock(self) -> float:
        return round(time.monotonic() - self.t0, 4)

    def api(self, timeout: float = 10.0) -> ApiClient:
        assert self.api_config is not None, "a store-only target has no API"
        return self.api_config.client(timeout=timeout, user_agent="skiff-chaos")

    # ---- the run ---------------------------------------------------------------------
    def execute(self) -> Outcome:
        out = Outcome(self.cfg, self.history)
        self.wait_healthy("before the run")
        start_rev = self.setup()
        watcher = Watcher(self.endpoints, self.keys.prefix, start_rev, self.history, self.clock,
                          deadline=time.monotonic() + self.cfg.duration + self.cfg.recover_timeout + 120)
        workers = self.workers()
        tracker = threading.Thread(target=self.track_leader, name="chaos-leader", daemon=True)
        for t in (watcher, *workers, tracker):
            t.start()
        try:
            self.stop.wait(WARMUP)  # the first fault lands on a workload already running
            out.faults = self.inject_faults()
            self.progress(f"all faults healed; clients run {self.cfg.settle:g}s more")
            self.stop.wait(self.cfg.settle)
        finally:
            self.stop.set()
            for w in workers:
                w.join(timeout=self.cfg.op_timeout * 3 + 10)
        self.check(out, watcher)
        self.cleanup()
        out.elapsed = self.clock()
        return out

    def workers(self) -> list[threading.Thread]:
        n = len(self.endpoints)
        store: list[threading.Thread] = [
            StoreWorker(f"s{i}", self.endpoints[i % n:] + self.endpoints[:i % n], self.keys, self.history,
                        self.clock, self.stop, seed=self.rng.randrange(2**32), op_timeout=self.cfg.op_timeout)
            for i in range(self.cfg.store_clients)]
        api: list[threading.Thread] = [
            ApiWorker(f"a{i}", self.api(timeout=self.cfg.op_timeout * 3), NAMESPACE, self.lease_names,
                      self.history, self.clock, self.stop, seed=self.rng.randrange(2**32))
            for i in range(self.cfg.api_clients if self.api_config else 0)]
        return store + api

    def track_leader(self) -> None:
        endpoints = self.target.store_endpoints()
        while not self.stop.is_set():
            leader = store_leader(endpoints, timeout=0.5)
            self.history.leader(self.clock(), leader or "")
            self.stop.wait(0.25)

    def inject_faults(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = []
        cycles = max(1, int(self.cfg.duration // self.cfg.interval))
        hold = min(self.cfg.hold, self.cfg.interval * 0.8)
        for i in range(cycles):
            begin = time.monotonic()
            record: dict[str, Any] = {"cycle": i + 1}
            try:
                scenario = scenario_of(self.cfg.scenario, i)
                fault = plan(scenario, self.target, self.rng)
            except (LookupError, NotSupported) as err:
                record.update(skipped=str(err), at=self.clock())
                self.progress(f"[{i + 1}/{cycles}] skipped: {err}")
            else:
                record.update(scenario=fault.scenario, hosts=fault.hosts, injected_at=self.clock())
                self.progress(f"[{i + 1}/{cycles}] {fault.scenario} on {', '.join(fault.hosts)}")
                self.apply(fault, hold, record)
            faults.append(record)
            self.history.faults.append(record)
            self.stop.wait(max(0.0, self.cfg.interval - (time.monotonic() - begin)))
        return faults

    def apply(self, fault: Fault, hold: float, record: dict[str, Any]) -> None:
        """Inject, hold, heal.  The heal runs whatever happened (an interrupted run
        leaves no host partitioned or frozen); errors are recorded, and a cluster left
        broken shows in the recovery check."""
        try:
            fault.inject()
            time.sleep(hold)
        except HostFaultError as err:
            record["error"] = str(err)
            self.progress(f"    could not inject: {err}")
        finally:
            record["healing_at"] = self.clock()
            try:
                fault.heal()
            except HostFaultError as err:
                record["heal_error"] = str(err)
                self.progress(f"    could not heal: {err}")
            record["healed_at"] = self.clock()

    # ---- setup and cleanup -----------------------------------------------------------
    def wait_healthy(self, when: str) -> None:
        """Wait until the store has a leader that takes a linearizable read and the API
        answers; raises TimeoutError (the run's verdict is then 'not recovered')."""
        deadline = time.monotonic() + self.cfg.recover_timeout
        last = ""
        with StoreClient(self.endpoints, timeout=2.0) as store:
            while time.monotonic() < deadline:
                try:
                    store.get(b"\0skiff/chaos")
                    if self.api_config is not None:
                        with self.api(timeout=3.0) as api:
                            api.get("/api/v1/namespaces/default")
                    return
                except Exception as err:  # retried until the deadline
                    last = f"{type(err).__name__}: {err}"
                time.sleep(0.5)
        raise TimeoutError(f"the cluster was not healthy {when} within "
                           f"{self.cfg.recover_timeout:g}s ({last})")

    def setup(self) -> int:
        """Create the Leases and the workload deployment (when the target has an API);
        returns the revision the store keys' history starts at."""
        self.progress(f"workload: {self.cfg.store_clients} store clients on {self.cfg.keys} keys"
                      + (f", {self.cfg.api_clients} API clients on {self.cfg.leases} leases, deployment "
                         f"{NAMESPACE}/{DEPLOYMENT} x{self.cfg.replicas}" if self.api_config else ""))
        if self.api_config is not None:
            self.setup_api()
        with StoreClient(self.endpoints, timeout=10) as store:
            return store.get(b"\0skiff/chaos").revision + 1

    def setup_api(self) -> None:
        with self.api(timeout=30) as api:
            _create(api, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": NAMESPACE}})
            for i, name in enumerate(self.lease_names):
                path = LEASES.format(ns=NAMESPACE)
                with suppress(StatusError):
                    api.delete(f"{path}/{name}")
                lease = api.create(path, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                          "metadata": {"name": name},
                                          "spec": {"holderIdentity": f"init-{i}"}})
                self.initial[f"lease/{name}"] = holder(lease)
            if self.cfg.replicas:
                deployments = paths.path(paths.resource("deployments"), NAMESPACE)
                _create(api, deployments, workload(self.cfg.replicas))
                self.wait_deployment(api, "before the run")

    def wait_deployment(self, api: ApiClient, when: str) -> None:
        deadline = time.monotonic() + self.cfg.recover_timeout
        path = paths.path(paths.resource("deployments"), NAMESPACE, DEPLOYMENT)
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            with suppress(ApiClientError):
                status = api.get(path).get("status") or {}
                if status.get("readyReplicas") == self.cfg.replicas == status.get("replicas"):
                    return
            time.sleep(1)
        raise TimeoutError(f"deployment {DEPLOYMENT} was not back to {self.cfg.replicas} ready replicas "
                           f"{when} within {self.cfg.recover_timeout:g}s (status {status})")

    def cleanup(self) -> None:
        if self.api_config is not None:
            with suppress(Exception), self.api(timeout=15) as api:
                api.delete(paths.path(paths.resource("namespaces"), None, NAMESPACE))
        with suppress(Exception), StoreClient(self.endpoints, timeout=10) as store:
            store.delete(self.keys.prefix.encode(), prefix_end(self.keys.prefix.encode()))

    # ---- checks ---------------------------------------------------------------------
    def check(self, out: Outcome, watcher: Watcher) -> None:
        self.progress("checking: recovery, linearizability, lost and duplicated writes, watch, "
                      "convergence, workload")
        try:
            self.wait_healthy("after healing")
            out.checks["recovered"] = True
        except TimeoutError as err:
            out.checks["recovered"] = False
            out.anomalies.append(Anomaly("not-recovered", str(err)))
            watcher.stop.set()
            return
        ops = self.history.ops
        broken = [o for o in ops if o.error.startswith("client error")]
        if broken:
            out.anomalies.append(Anomaly("client-error", f"{len(broken)} operations hit a bug of the "
                                         "chaos client itself", [o.describe() + " " + o.error
                                                                 for o in broken[:3]]))
        out.checks["clients"] = not broken
        out.verdicts = linearizable.check(ops, initial=self.initial)
        bad = [v for v in out.verdicts if v.ok is not True]
        out.checks["linearizable"] = not bad
        for v in bad:
            what = "not linearizable" if v.ok is False else f"no verdict within {v.steps} steps"
            out.anomalies.append(Anomaly("nonlinearizable" if v.ok is False else "undecided",
                                         f"{v.key}: {what}; could not place "
                                         f"{v.culprit.describe() if v.culprit else '?'}",
                                         [o.describe() for o in v.context]))
        reference = read_history(self.endpoints, self.keys.prefix, watcher.start_revision, self.clock)
        lost = checks.lost_and_duplicated(ops, reference)
        out.anomalies += lost
        out.checks["no-lost-or-duplicated-writes"] = not lost
        newest = reference[-1].revision if reference else 0
        watcher.wait_for(newest, timeout=30)
        watcher.stop.set()
        live = [e for e in self.history.watch if e.revision <= newest]
        watch = checks.watch_anomalies(live, reference)
        if watcher.last_revision < newest:
            watch.append(Anomaly("watch-stalled", f"the watch reached revision {watcher.last_revision}, "
                                 f"not {newest} ({watcher.error or 'no error'})"))
        out.anomalies += watch
        out.checks["watch"] = not watch
        out.convergence, diverged = self.converged()
        out.anomalies += diverged
        out.checks["converged"] = not diverged
        workload_problems = self.check_workload() if self.cfg.replicas and self.api_config else []
        out.anomalies += workload_problems
        out.checks["workload"] = not workload_problems

    def converged(self) -> tuple[dict[str, Any], list[Anomaly]]:
        """Every member reaches the leader's current revision, and hashes the same
        content at that revision (read from each member's own copy)."""
        with StoreClient(self.endpoints, timeout=10) as store:
            revision = store.get(b"\0skiff/chaos").revision
            answers: dict[str, tuple[int, int] | str] = {}
            for host, endpoint in self.target.store_endpoints().items():
                answers[host] = _member_hash(store, endpoint, revision, self.cfg.recover_timeout)
        shown = {h: (a if isinstance(a, str) else {"revision": a[0], "hash": a[1]})
                 for h, a in answers.items()}
        return {"revision": revision, "members": shown}, checks.convergence(answers)

    def check_workload(self) -> list[Anomaly]:
        found: list[Anomaly] = []
        with self.api(timeout=15) as api:
            try:
                self.wait_deployment(api, "after healing")
            except TimeoutError as err:
                found.append(Anomaly("workload", str(err)))
            pods_path = paths.path(paths.resource("pods"), NAMESPACE)
            pods = [p for p in api.list(pods_path, label=f"app={DEPLOYMENT}").get("items", [])
                    if not p["metadata"].get("deletionTimestamp")]
        if len(pods) != self.cfg.replicas:
            found.append(Anomaly("workload",
                                 f"{len(pods)} live pods of {DEPLOYMENT}, want {self.cfg.replicas}",
                                 [p["metadata"]["name"] for p in pods]))
        running = self.target.running_pods()
        for uid, hosts in sorted(running.items()):
            if len(hosts) > 1:
                found.append(Anomaly("running-twice", f"pod {uid} runs on {', '.join(hosts)}"))
        return found


def _member_hash(store: StoreClient, endpoint: str, revision: int, timeout: float) -> tuple[int, int] | str:
    """(revision, crc of every key at `revision`) from one member's own copy."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if store.status(endpoint)["revision"] >= revision:
                resp = store.get(b"\0", b"\0", revision=revision, serializable=True,
                                 endpoint=f"http://{endpoint}")
                crc = 0
                for kv in resp.kvs:
                    meta = f"{kv.create_revision},{kv.mod_revision},{kv.version}".encode()
                    for part in (kv.key, kv.value, meta):
                        crc = zlib.crc32(part, crc)
                return revision, crc
            last = "behind"
        except Exception as err:  # retried until the deadline
            last = f"{type(err).__name__}: {err}"
        if time.monotonic() >= deadline:
            return f"did not reach revision {revision}: {last}"
        time.sleep(0.2)


def _create(api: ApiClient, path: str, obj: dict[str, Any]) -> None:
    try:
        api.create(path, obj)
    except StatusError as err:
        if err.code != 409:
            raise


def workload(replicas: int) -> dict[str, Any]:
    """The deployment whose pods must survive the run: `replicas` sleeping processes."""
    labels = {"app": DEPLOYMENT}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "terminationGracePeriodSeconds": 2,
                     "containers": [{"name": "sleep", "image": "process",
                                     "command": ["python3", "-c", "import time\nwhile True: time.sleep(60)"],
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}},
    }


def scenario_of(scenarios: str, cycle: int) -> str:
    """The scenario of a cycle: `a,b` takes turns (a, b, a, ...); one name is every cycle's."""
    names = scenarios.split(",")
    return names[cycle % len(names)]
