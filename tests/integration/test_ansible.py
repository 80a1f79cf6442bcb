"""Ansible against lab hosts over real SSH (root: the lab needs namespaces)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "ansible"
BIN = Path(sys.executable).parent
SKIFF = [sys.executable, "-m", "control_plane.cli.main"]
NAME = "t8"


def playbook(inventory: Path, book: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ANSIBLE / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(ANSIBLE / book), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ANSIBLE,
        env=env,
        check=False,
    )


def test_ansible_lint_is_clean() -> None:
    env = dict(os.environ, NO_COLOR="1")
    done = subprocess.run(
        [str(BIN / "ansible-lint"), "--offline", "."],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=ANSIBLE,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[dict[str, object]]:
    if os.geteuid() != 0:
        pytest.skip("lab hosts need root (network namespaces, mounts)")
    subprocess.run([*SKIFF, "lab", "down", "--name", NAME], capture_output=True, timeout=120, check=False)
    try:
        subprocess.run(
            [
                *SKIFF,
                "lab",
                "up",
                "--masters",
                "3",
                "--nodes",
                "1",
                "--name",
                NAME,
                "--subnet",
                "10.98.9.0/24",
            ],
            capture_output=True,
            timeout=180,
            check=True,
        )
        status = subprocess.run(
            [*SKIFF, "lab", "status", "--name", NAME, "-o", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        yield json.loads(status.stdout)
    finally:
        subprocess.run([*SKIFF, "lab", "down", "--name", NAME], capture_output=True, timeout=120, check=False)


def _recap(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    tail = done.stdout.split("PLAY RECAP")[-1]
    return {line.split()[0]: line for line in tail.splitlines() if "ok=" in line}


def _variant(lab: dict[str, object], tmp_path: Path, change: str) -> Path:
    inventory = yaml.safe_load(Path(str(lab["inventory"])).read_text())
    groups = inventory["all"]["children"]
    if change == "even":
        del groups["masters"]["hosts"]["m3"]
    elif change == "duplicate":
        groups["nodes"]["hosts"]["n1"]["ansible_host"] = groups["masters"]["hosts"]["m1"]["ansible_host"]
    path = tmp_path / f"{change}.yaml"
    path.write_text(yaml.safe_dump(inventory))
    return path


@pytest.mark.parametrize(
    ("change", "says"), [("even", "use an odd number"), ("duplicate", "addresses used by more than one host")]
)
def test_a_bad_inventory_is_refused_before_any_host_is_touched(
    lab: dict[str, object], tmp_path: Path, change: str, says: str
) -> None:
    done = playbook(_variant(lab, tmp_path, change), "site.yml")
    assert done.returncode != 0 and says in done.stdout, done.stdout[-3000:]
    assert "Check that Python" not in done.stdout  # stopped at validation


def test_ansible_is_installed() -> None:
    assert shutil.which("ansible-playbook", path=str(BIN)) is not None
