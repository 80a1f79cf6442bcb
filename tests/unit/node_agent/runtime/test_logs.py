"""The shim's size-rotated log writer and the previous-log hand-over (pure file I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest

from node_agent.runtime.logs import RotatingLog, hand_over_to_previous, rotated, rotated_files


def test_no_file_ever_exceeds_max_bytes_and_nothing_in_the_kept_files_is_lost(tmp_path: Path) -> None:
    path = tmp_path / "container.log"
    log = RotatingLog(path, max_bytes=10, max_files=3)
    data = b"".join(b"%02d\n" % i for i in range(20))  # 60 bytes
    for i in range(0, len(data), 7):
        log.write(data[i : i + 7])
    log.close()
    files = [rotated(path, i) for i in (2, 1, 0)]
    assert [f.stat().st_size for f in files] == [10, 10, 10]
    assert b"".join(f.read_bytes() for f in files) == data[-30:]
    assert rotated_files(path) == [rotated(path, 1), rotated(path, 2)]


def test_a_write_larger_than_a_file_is_split(tmp_path: Path) -> None:
    path = tmp_path / "log"
    log = RotatingLog(path, max_bytes=4, max_files=2)
    log.write(b"abcdefghij")
    log.close()
    assert (rotated(path, 1).read_bytes(), path.read_bytes()) == (b"efgh", b"ij")


def test_one_file_means_truncate_on_rotation(tmp_path: Path) -> None:
    path = tmp_path / "log"
    log = RotatingLog(path, max_bytes=4, max_files=1)
    log.write(b"abcdef")
    log.close()
    assert path.read_bytes() == b"ef" and rotated_files(path) == []


def test_appends_to_an_existing_file_counting_its_size(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"abc")
    log = RotatingLog(path, max_bytes=4, max_files=2)
    log.write(b"de")
    log.close()
    assert (rotated(path, 1).read_bytes(), path.read_bytes()) == (b"abcd", b"e")


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        RotatingLog(tmp_path / "log", max_bytes=0)


def test_hand_over_moves_current_to_previous_and_drops_rotated(tmp_path: Path) -> None:
    cur, prev = tmp_path / "container.log", tmp_path / "previous.log"
    cur.write_text("run 2\n")
    rotated(cur, 1).write_text("run 2, older\n")
    prev.write_text("run 1\n")
    hand_over_to_previous(cur, prev)
    assert prev.read_text() == "run 2\n" and not cur.exists() and rotated_files(cur) == []
    hand_over_to_previous(cur, prev)  # no current log: a stale previous one must not remain
    assert not prev.exists()
