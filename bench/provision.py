"""Provisioning benchmark: the Ansible playbooks against lab hosts over real SSH (root).

A lab of 3 masters and 3 nodes (network namespaces with their own sshd); then
`site.yml` from bare hosts (first run), `site.yml` again (re-run: nothing to change),
and `join.yml --limit` for one added node.  Each run's time is split by play (the
phases: validate, install, assets, agents + wait for Ready).  Targets on this 2-core
machine: first run under 90 s, re-run under 30 s, one join under 20 s.  For scale:
kubespray users report about 15 minutes for 10 nodes.

    sudo .venv/bin/python bench/provision.py [--out bench/results/provision.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
ANSIBLE = ROOT / "ansible"
BIN = Path(sys.executable).parent
SKIFF = [sys.executable, "-m", "control_plane.cli.main"]
NAME = "bench"
TARGETS = {"site.yml (first run)": 90.0, "site.yml (re-run)": 30.0, "join.yml (one node)": 20.0}


def timed_playbook(inventory: Path, book: str, admin: Path, *extra: str) -> dict[str, Any]:
    """Run a playbook, timing each play by when its banner appears on the output."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ANSIBLE / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    argv = [
        str(BIN / "ansible-playbook"),
        "-i",
        str(inventory),
        str(ANSIBLE / book),
        "-e",
        f"skiff_admin_config={admin}",
        *extra,
    ]
    started = time.monotonic()
    phases: list[list[Any]] = []
    output: list[str] = []
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ANSIBLE, env=env
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if line.startswith("PLAY [") or line.startswith("PLAY RECAP"):
                now = time.monotonic() - started
                if phases:
                    phases[-1][1] = now - phases[-1][2]
                phases.append([line.split("[", 1)[-1].split("]")[0] if "[" in line else "recap", 0.0, now])
        code = proc.wait(timeout=1800)
    total = time.monotonic() - started
    if code != 0:
        raise SystemExit(f"{book} failed:\n{''.join(output[-40:])}")
    changed = sum(
        int(part.split("=")[1])
        for line in output
        if "ok=" in line
        for part in line.split()
        if part.startswith("changed=")
    )
    return {
        "seconds": round(total, 1),
        "changed": changed,
        "phases": [{"play": p[0], "seconds": round(p[1], 1)} for p in phases if p[0] != "recap"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/provision.json")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the lab needs root (network namespaces, mounts)")
    console = Console()
    results: dict[str, Any] = {}
    subprocess.run([*SKIFF, "lab", "down", "--name", NAME], capture_output=True, check=False)
    try:
        subprocess.run(
            [
                *SKIFF,
                "lab",
                "up",
                "--masters",
                "3",
                "--nodes",
                "3",
                "--name",
                NAME,
                "--subnet",
                "10.98.90.0/24",
            ],
            capture_output=True,
            check=True,
            timeout=300,
        )
        status = json.loads(
            subprocess.run(
                [*SKIFF, "lab", "status", "--name", NAME, "-o", "json"],
                capture_output=True,
                check=True,
                text=True,
            ).stdout
        )
        inventory = Path(status["inventory"])
        admin = Path(tempfile.mkdtemp()) / "admin.conf"
        for label, extra in (("site.yml (first run)", ()), ("site.yml (re-run)", ())):
            console.print(f"running {label} ...")
            results[label] = timed_playbook(inventory, "site.yml", admin, *extra)
        subprocess.run(
            [*SKIFF, "lab", "add", "--role", "node", "--name", NAME], capture_output=True, check=True
        )
        console.print("running join.yml (one node) ...")
        results["join.yml (one node)"] = timed_playbook(inventory, "join.yml", admin, "--limit", "n4")
    finally:
        subprocess.run([*SKIFF, "lab", "down", "--name", NAME], capture_output=True, check=False, timeout=300)
    table = Table(title="Provisioning 3 masters + 3 nodes over SSH (lab hosts, 2 cores)")
    for column in ("run", "seconds", "target", "changed", "slowest phases"):
        table.add_column(column)
    for label, r in results.items():
        slow = sorted(r["phases"], key=lambda p: -p["seconds"])[:2]
        table.add_row(
            label,
            f"{r['seconds']:.1f}",
            f"< {TARGETS[label]:.0f}",
            str(r["changed"]),
            ", ".join(f"{p['play']} {p['seconds']:.0f} s" for p in slow),
        )
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "targets": TARGETS,
                "results": results,
                "cpus": os.cpu_count(),
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            indent=2,
        )
    )
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
