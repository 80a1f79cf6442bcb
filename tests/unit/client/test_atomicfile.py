"""`write_atomic`: readers see the old or the new content, a secret is never world-readable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from control_plane.client.atomicfile import write_atomic


def test_replaces_content_and_sets_the_mode_despite_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "token"
    old = os.umask(0o077)
    try:
        write_atomic(path, "one\n", mode=0o644)
    finally:
        os.umask(old)
    assert path.read_text() == "one\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    write_atomic(path, b"two\n", mode=0o600)
    assert path.read_bytes() == b"two\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["token"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config"
    write_atomic(path, "old")

    def broken(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config"]
