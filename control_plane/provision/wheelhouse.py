"""The wheelhouse a controller gives its hosts: Skiff's wheel and every dependency, in one
tar, so hosts install offline (Ansible's skiff_install role, `skiff node join`).

A build is named by the *digest* of Skiff's source (every file of its packages and
`pyproject.toml`), not only by its version: a changed source tree with the same version
is a new build, so hosts reinstall and restart (that is how upgrade.yml rolls out a
development build).

Contract: `build()` is idempotent: with an unchanged source it touches nothing and
returns `changed=False`; dependencies are downloaded once and reused from the
wheelhouse itself (`--find-links`).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from control_plane.provision.errors import WheelhouseError

PACKAGES = ("raftstore", "control_plane", "node_agent")
DIGEST_FILE = ".source-digest"


@dataclass(frozen=True)
class Build:
    changed: bool
    digest: str
    tar: Path


def source_digest(source: Path) -> str:
    """A short hash of the source files that make Skiff's wheel."""
    h = hashlib.sha256()
    files = [source / "pyproject.toml"]
    for package in PACKAGES:
        files += sorted(
            p for p in (source / package).rglob("*") if p.is_file() and "__pycache__" not in p.parts
        )
    for path in files:
        h.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build(source: Path, out: Path) -> Build:
    """Make `out/` (the wheels) and `out.tar` for the source at `source`."""
    source, out = source.resolve(), out.resolve()
    if not (source / "pyproject.toml").exists():
        raise WheelhouseError(f"{source} is not Skiff's source tree (no pyproject.toml)")
    digest = source_digest(source)
    tar = out.with_suffix(".tar")
    stamp = out / DIGEST_FILE
    if tar.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return Build(False, digest, tar)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("skiff-*.whl"):
        old.unlink()  # the previous build of Skiff itself; dependencies stay
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--wheel-dir",
            str(out),
            "--find-links",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise WheelhouseError(f"pip wheel failed: {done.stderr.strip()[-500:]}")
    stamp.write_text(digest + "\n")
    tmp = shutil.make_archive(str(out) + ".tmp", "tar", str(out))
    Path(tmp).replace(tar)
    return Build(True, digest, tar)
