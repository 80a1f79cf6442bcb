"""`skiff chaos run` against a real local cluster (3 masters, 2 workers): kill the store
leader under load (3 kills), restart every master, and the run's own checks must pass.

The cluster is the session's `local_cluster` (shared with `test_local_cluster`, which
runs after this module and takes it down); every run is a subprocess of the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from control_plane.devtools import procs

SKIFF = [sys.executable, "-m", "control_plane.cli.main"]
REPORT_KEYS = {"ok", "anomalies", "acknowledged_lost", "duplicated", "operations", "faults",
               "unavailability_s"}


@pytest.fixture(scope="module")
def cluster(local_cluster: Path) -> Path:
    procs.wait_for(lambda: _healthy(local_cluster), 180, interval=1.0, what="the local cluster to be ready")
    return local_cluster


def _healthy(root: Path) -> bool:
    done = subprocess.run([*SKIFF, "--config", str(root / "config"), "wait", "nodes", "--all",
                           "--for", "condition=Ready", "--timeout", "5"],
                          capture_output=True, text=True, timeout=60, check=False)
    return done.returncode == 0


def chaos(root: Path, report: Path, *args: str, timeout: float = 400) -> tuple[int, str, str]:
    done = subprocess.run([*SKIFF, "chaos", "run", "--dir", str(root), "--report", str(report), *args],
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def load(report: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((report / "report.json").read_text())
    return data


def test_kill_leader_under_load_loses_nothing(cluster: Path, tmp_path: Path) -> None:
    code, out, err = chaos(cluster, tmp_path / "r", "--scenario", "kill-leader", "--duration", "21",
                           "--interval", "7", "--hold", "2", "--seed", "11", "--replicas", "1")
    report = load(tmp_path / "r")
    assert code == 0, f"{out}\n{err}"
    assert report.keys() >= REPORT_KEYS
    assert report["ok"] is True and report["anomalies"] == 0
    assert report["acknowledged_lost"] == 0 and report["duplicated"] == 0
    assert report["faults"] == 3
    # the leader really was killed each time: a new one was elected after each kill
    assert report["leader_changes"] >= 3
    assert all(f["scenario"] == "kill-leader" and len(f["hosts"]) == 1 for f in report["fault_log"])
    assert report["checks"] == {"recovered": True, "clients": True, "linearizable": True,
                                "no-lost-or-duplicated-writes": True, "watch": True, "converged": True,
                                "workload": True}
    # the history holds acknowledged work on both paths and a watch that saw it (how much
    # is a benchmark figure: bench/chaos.py)
    assert report["outcomes"].get("store:ok", 0) > 0 and report["outcomes"].get("api:ok", 0) > 0
    assert report["watch_events"] > 0
    assert all(v["ok"] is True for v in report["linearizability"])
    assert (tmp_path / "r/timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "r/history.json").read_text())["ops"]
    assert "verdict: OK" in out and "kill-leader" in out


def test_restart_all_masters_loses_nothing(cluster: Path, tmp_path: Path) -> None:
    code, out, err = chaos(cluster, tmp_path / "r", "--scenario", "restart-all-masters", "--duration", "25",
                           "--interval", "25", "--hold", "2", "--seed", "5", "--replicas", "1",
                           "-o", "json")
    report = load(tmp_path / "r")
    assert code == 0, f"{out}\n{err}"
    assert json.loads(out)["ok"] is True
    assert report["faults"] == 1 and report["fault_log"][0]["hosts"] == ["m1", "m2", "m3"]
    # with every master down nothing can be written: the outage is seen and measured
    assert report["unavailability_s"]["max"] > 0
    assert report["outcomes"].get("store:fail", 0) + report["outcomes"].get("store:unknown", 0) > 0
    assert report["anomalies"] == 0 and all(report["checks"].values())


def test_random_master_agent_and_mixed_faults_lose_nothing(cluster: Path, tmp_path: Path) -> None:
    # The scenarios take turns: a random master killed, then a node's agent (and its
    # supervisor), then whatever `mixed` draws; every one is healed and checked.
    code, out, err = chaos(cluster, tmp_path / "r", "--scenario", "kill-random-master,kill-agent,mixed",
                           "--duration", "30", "--interval", "10", "--hold", "2", "--seed", "3",
                           "--replicas", "1")
    report = load(tmp_path / "r")
    assert code == 0, f"{out}\n{err}"
    scenarios = [f["scenario"] for f in report["fault_log"]]
    assert scenarios[:2] == ["kill-random-master", "kill-agent"] and len(scenarios) == 3, scenarios
    assert report["anomalies"] == 0 and all(report["checks"].values()), report["checks"]
    assert report["acknowledged_lost"] == 0 and report["duplicated"] == 0


def test_bad_requests_get_one_clear_line(cluster: Path, tmp_path: Path) -> None:
    code, _, err = chaos(cluster, tmp_path / "r", "--scenario", "nope")
    assert code == 2 and "unknown scenario 'nope'" in err
    code, _, err = chaos(cluster, tmp_path / "r", "--scenario", "kill-leader,partition-minority",
                         "--duration", "5", "--interval", "5")
    assert code == 2 and "partition-minority needs a lab" in err
    code, _, err = chaos(tmp_path / "none", tmp_path / "r", "--scenario", "kill-leader")
    assert code == 2 and "skiff up" in err
