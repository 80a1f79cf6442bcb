"""A failed run's report: not ok, the anomaly counted, the smallest failing piece of
history shown; every file written."""

from __future__ import annotations

import json
from pathlib import Path

from control_plane.devtools.chaos import report
from control_plane.devtools.chaos.checks import Anomaly, lost_and_duplicated
from control_plane.devtools.chaos.history import History, WatchEvent
from control_plane.devtools.chaos.linearizable import check
from control_plane.devtools.chaos.runner import Outcome, RunConfig


def failed_outcome() -> Outcome:
    h = History()
    steps = [("a", "write", 0.0, 0.1, {"value": "x"}), ("a", "write", 0.2, 0.3, {"value": "y"}),
             ("b", "read", 0.4, 0.5, {})]
    for client, kind, t0, t1, kw in steps:
        op = h.invoke(client, kind, "k", t0, **kw)  # type: ignore[arg-type]
        op.complete, op.outcome = t1, "ok"
        op.revision = {"x": 5, "y": 6}.get(op.value or "", 0)
    h.ops[2].result = "x"  # a stale read
    h.faults.append({"cycle": 1, "scenario": "kill-leader", "hosts": ["m1"], "injected_at": 0.15,
                     "healing_at": 0.25, "healed_at": 0.26})
    h.leader(0.0, "m1")
    h.leader(0.3, "m2")
    out = Outcome(RunConfig(scenario="kill-leader"), h, faults=list(h.faults))
    out.verdicts = check(h.ops)
    v = out.verdicts[0]
    out.anomalies.append(Anomaly("nonlinearizable", "k: not linearizable", [o.describe() for o in v.context]))
    out.anomalies += lost_and_duplicated(h.ops, [WatchEvent(5, "k", "x", 0.1)])  # y is missing
    out.checks = {"linearizable": False, "no-lost-or-duplicated-writes": False}
    out.elapsed = 1.0
    return out


def test_failed_run_report(tmp_path: Path) -> None:
    data = report.write(failed_outcome(), tmp_path)
    assert data["ok"] is False and data["anomalies"] == 2 and data["acknowledged_lost"] == 1
    assert data["faults"] == 1 and data["operations"] == 3 and data["leader_changes"] == 1
    assert any("read() = 'x'" in line for line in data["smallest_failing_history"])
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["ok"] is False and saved["unavailability_s"] == data["unavailability_s"]
    text = (tmp_path / "summary.txt").read_text()
    assert "FAIL  linearizable" in text and "smallest failing history" in text and "verdict: FAILED" in text
    assert (tmp_path / "timeline.png").read_bytes()[:4] == b"\x89PNG"
    assert len(json.loads((tmp_path / "history.json").read_text())["ops"]) == 3
