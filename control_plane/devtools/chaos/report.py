"""The report of a chaos run: `report.json` (the verdict and numbers scripts read),
`history.json` (every operation, watch event, fault and leader change), `summary.txt`
(the one-screen summary the CLI prints) and `timeline.png` (throughput and errors
over time, fault windows shaded, leader changes marked)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from control_plane.devtools.chaos import checks
from control_plane.devtools.chaos.runner import Outcome

SMALLEST_FAILING = 12  # lines of history shown for a failed check


def build(out: Outcome) -> dict[str, Any]:
    """The report as a dict; `ok` is True only when every check passed."""
    ops = out.history.ops
    injected = [f for f in out.faults if "injected_at" in f]
    gaps = checks.unavailability(ops, [f["injected_at"] for f in injected])
    for fault, gap in zip(injected, gaps, strict=True):
        fault["unavailability_s"] = gap
    kinds = Counter(a.kind for a in out.anomalies)
    first_bad = next((a for a in out.anomalies if a.ops), None)
    return {
        "ok": bool(out.checks) and all(out.checks.values()) and not out.anomalies,
        "anomalies": len(out.anomalies),
        "acknowledged_lost": kinds["lost"],
        "duplicated": kinds["duplicated"],
        "operations": len(ops),
        "faults": len(injected),
        "unavailability_s": checks.summary_stats(gaps),
        "scenario": out.config.scenario,
        "seed": out.config.seed,
        "duration_s": round(out.elapsed, 1),
        "checks": out.checks,
        "outcomes": dict(Counter(f"{o.layer}:{o.outcome}" for o in ops)),
        "watch_events": len(out.history.watch),
        "leader_changes": len([x for x in out.history.leaders[1:] if x[1]]),
        "fault_log": out.faults,
        "convergence": out.convergence,
        "linearizability": [v.to_json() for v in out.verdicts],
        "anomaly_kinds": dict(kinds),
        "anomaly_list": [a.to_json() for a in out.anomalies[:50]],
        "smallest_failing_history": (first_bad.ops[:SMALLEST_FAILING] if first_bad else []),
    }


def summary(report: dict[str, Any]) -> str:
    """A one-screen text summary of `report`."""
    lines = [f"chaos run: {report['scenario']} (seed {report['seed']}), {report['duration_s']}s, "
             f"{report['operations']} operations, {report['watch_events']} watch events, "
             f"{report['leader_changes']} leader changes",
             "", f"{'#':>3}  {'fault':<22}{'hosts':<16}{'at (s)':>8}{'unavailable (s)':>17}"]
    for f in report["fault_log"]:
        if "skipped" in f:
            lines.append(f"{f['cycle']:>3}  skipped: {f['skipped']}")
            continue
        lines.append(f"{f['cycle']:>3}  {f['scenario']:<22}{','.join(f['hosts']):<16}"
                     f"{f['injected_at']:>8.1f}{f.get('unavailability_s', 0.0):>17.3f}")
    u = report["unavailability_s"]
    lines += ["", f"unavailability after a fault: p50 {u['p50']:.3f}s, max {u['max']:.3f}s",
              "outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(report["outcomes"].items())), ""]
    for name, passed in report["checks"].items():
        lines.append(f"  {'PASS' if passed else 'FAIL'}  {name}")
    lines += ["", f"anomalies: {report['anomalies']} (lost {report['acknowledged_lost']}, "
                  f"duplicated {report['duplicated']})"]
    for a in report["anomaly_list"][:8]:
        lines.append(f"  - {a['kind']}: {a['detail']}")
    if report["smallest_failing_history"]:
        lines += ["", "smallest failing history:",
                  *(f"  {line}" for line in report["smallest_failing_history"])]
    lines += ["", "verdict: " + ("OK" if report["ok"] else "FAILED")]
    return "\n".join(lines)


def write(out: Outcome, directory: Path) -> dict[str, Any]:
    """Write every report file into `directory` (created); returns the report."""
    directory.mkdir(parents=True, exist_ok=True)
    report = build(out)
    (directory / "history.json").write_text(json.dumps(out.history.to_json()) + "\n")
    try:
        timeline(out, report, directory / "timeline.png")
        report["timeline"] = str(directory / "timeline.png")
    except ImportError:  # matplotlib is an extra: the checks do not need it
        report["timeline"] = "not drawn: matplotlib is missing (pip install 'skiff[chaos]')"
    (directory / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (directory / "summary.txt").write_text(summary(report) + "\n")
    return report


def timeline(out: Outcome, report: dict[str, Any], path: Path) -> None:
    """Throughput (acknowledged operations per second) and errors per second; fault
    windows shaded; a dotted line where the store's leader changed."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write files only
    import matplotlib.pyplot as plt

    ops = out.history.ops
    end = int(max((o.complete or o.invoke for o in ops), default=1.0)) + 1
    ok, errors = [0] * end, [0] * end
    for o in ops:
        t = int(o.complete or o.invoke)
        (ok if o.outcome == "ok" else errors)[min(t, end - 1)] += 1
    fig, ax = plt.subplots(figsize=(11, 4), dpi=100)
    ax.plot(range(end), ok, label="acknowledged ops/s", color="tab:blue")
    ax.plot(range(end), errors, label="failed or unknown ops/s", color="tab:red")
    for f in report["fault_log"]:
        if "injected_at" in f:
            ax.axvspan(f["injected_at"], f.get("healed_at", f["injected_at"]), color="orange", alpha=0.25)
            ax.annotate(f["scenario"], (f["injected_at"], max(ok or [1]) * 1.02), fontsize=7, rotation=90,
                        va="top")
    for i, (at, leader) in enumerate(out.history.leaders):
        if i and leader:
            ax.axvline(at, color="green", linestyle=":", linewidth=1)
    ax.set_xlabel("seconds since the run began (shaded: fault injected; green dotted: new store leader)")
    ax.set_ylabel("operations per second")
    ax.set_title(f"skiff chaos {report['scenario']}: {'OK' if report['ok'] else 'FAILED'}, "
                 f"{report['anomalies']} anomalies, unavailability p50 {report['unavailability_s']['p50']}s "
                 f"max {report['unavailability_s']['max']}s")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
