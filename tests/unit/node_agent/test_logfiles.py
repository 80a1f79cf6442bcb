"""Log file reading (`node_agent.logfiles`): tail offsets, line reading, following across
rotation, on tmp files; and the log server's pure parts (no server): query and path
parsing, chunk writing."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from node_agent import logfiles
from node_agent.logfiles import Follower, LineReader, open_readers, tail_start
from node_agent.logquery import HttpError, LogQuery, parse_query, parse_target
from node_agent.logserver import ChunkWriter


@pytest.mark.parametrize(("data", "n", "expected"), [
    (b"", 3, b""),
    (b"a\nb\nc\n", 0, b""),
    (b"a\nb\nc\n", 1, b"c\n"),
    (b"a\nb\nc\n", 2, b"b\nc\n"),
    (b"a\nb\nc\n", 3, b"a\nb\nc\n"),
    (b"a\nb\nc\n", 9, b"a\nb\nc\n"),
    (b"a\nb\nc", 1, b"c"),  # a final line without its newline counts
    (b"a\nb\nc", 2, b"b\nc"),
    (b"\n\n", 1, b"\n"),
    (b"\n", 1, b"\n"),
])
def test_tail_start(data: bytes, n: int, expected: bytes) -> None:
    start, got = tail_start(io.BytesIO(data), len(data), n)
    assert data[start:] == expected
    assert got == expected.count(b"\n") + (0 if expected.endswith(b"\n") or not expected else 1)


def test_tail_start_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logfiles, "BLOCK", 7)
    data = b"".join(f"line {i}\n".encode() for i in range(100))
    start, got = tail_start(io.BytesIO(data), len(data), 30)
    assert got == 30 and data[start:].decode().splitlines() == [f"line {i}" for i in range(70, 100)]
    start, got = tail_start(io.BytesIO(data), len(data) - 8, 1)  # an end inside the file
    assert data[start:len(data) - 8] == b"line 98\n"
    start, got = tail_start(io.BytesIO(data), len(data) - 7, 2)  # ... inside a line
    assert data[start:len(data) - 7] == b"line 98\nl"


def test_line_reader_holds_a_partial_line_until_its_newline() -> None:
    buf = io.BytesIO(b"one\ntw")
    reader = LineReader(buf)
    assert list(reader.lines()) == [b"one\n"]
    assert reader.carry == b"tw"
    buf.seek(0, io.SEEK_END)
    buf.write(b"o\nthree")
    assert list(reader.lines()) == [b"two\n"]
    assert reader.flush() == b"three" and reader.flush() == b""


def test_line_reader_stops_at_end_and_splits_huge_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    assert list(LineReader(io.BytesIO(b"a\nb\nc\n")).lines(end=4)) == [b"a\n", b"b\n"]
    monkeypatch.setattr(logfiles, "MAX_LINE", 4)
    monkeypatch.setattr(logfiles, "BLOCK", 3)
    assert list(LineReader(io.BytesIO(b"abcdefgh\nxy\n")).lines()) == [b"abcdef", b"gh\n", b"xy\n"]


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as s:
        yield s


def _read(readers: list[tuple[LineReader, int]]) -> bytes:
    out = b""
    for reader, end in readers:
        out += b"".join(reader.lines(end)) + reader.flush()
    return out


def test_open_readers_tail_across_rotated_files(tmp_path: Path, stack: contextlib.ExitStack) -> None:
    files = [tmp_path / "x.log.2", tmp_path / "x.log.1", tmp_path / "x.log"]
    files[0].write_bytes(b"a1\na2\n")
    files[1].write_bytes(b"b1\nb2\nb3\n")
    files[2].write_bytes(b"c1\nc2\n")
    assert _read(open_readers(files, None, stack)) == b"a1\na2\nb1\nb2\nb3\nc1\nc2\n"
    assert _read(open_readers(files, 4, stack)) == b"b2\nb3\nc1\nc2\n"
    assert _read(open_readers(files, 2, stack)) == b"c1\nc2\n"
    assert _read(open_readers(files, 0, stack)) == b""
    assert _read(open_readers(files, 100, stack)) == b"a1\na2\nb1\nb2\nb3\nc1\nc2\n"


def test_open_readers_skips_vanished_rotations_and_a_missing_current_file(
        tmp_path: Path, stack: contextlib.ExitStack) -> None:
    files = [tmp_path / "x.log.1", tmp_path / "x.log"]
    assert _read(open_readers(files, None, stack)) == b""
    files[1].write_bytes(b"now\n")
    assert _read(open_readers(files, 5, stack)) == b"now\n"


def test_follower_across_rename_rotation(tmp_path: Path) -> None:
    current = tmp_path / "x.log"
    current.write_bytes(b"old 1\n")
    reader = LineReader(current.open("rb"))
    follower = Follower(current, reader)
    try:
        assert follower.poll() == [b"old 1\n"]
        assert follower.poll() == []
        with current.open("ab") as f:
            f.write(b"old 2\nold par")
        current.rename(tmp_path / "x.log.1")
        assert follower.poll() == [b"old 2\n"]  # the new file is not there yet
        current.write_bytes(b"new 1\n")
        assert follower.poll() == [b"old par", b"new 1\n"]
        with current.open("ab") as f:
            f.write(b"new 2\n")
        assert follower.poll() == [b"new 2\n"]
    finally:
        follower.close()


def test_follower_after_truncation_and_a_late_file(tmp_path: Path) -> None:
    current = tmp_path / "x.log"
    follower = Follower(current, LineReader(None))
    try:
        assert follower.poll() == []
        current.write_bytes(b"first\nsecond\n")
        assert follower.poll() == [b"first\n", b"second\n"]
        with current.open("r+b") as f:  # copytruncate
            f.truncate(0)
        with current.open("ab") as f:
            f.write(b"after\n")
        assert [line for line in follower.poll() if line] == [b"after\n"]
    finally:
        follower.close()


@pytest.mark.parametrize(("query", "expected"), [
    ("", LogQuery()),
    ("follow=true&tailLines=10", LogQuery(follow=True, tail_lines=10)),
    ("previous=1&timestamps=TRUE&sinceSeconds=5&limitBytes=9", LogQuery(previous=True, timestamps=True,
                                                                          since_seconds=5)),
    ("follow=true&follow=false", LogQuery()),  # the last value wins
])
def test_parse_query(query: str, expected: LogQuery) -> None:
    assert parse_query(query) == expected


@pytest.mark.parametrize("query", ["tailLines=-1", "tailLines=x", "tailLines=", "follow=yes", "previous=",
                                   "sinceSeconds=1.5", "tailLines=%D9%A3"])
def test_parse_query_rejects(query: str) -> None:
    with pytest.raises(HttpError) as err:
        parse_query(query)
    assert err.value.code == 400


def test_parse_target() -> None:
    assert parse_target("/containerLogs/kube-system/store-m1/store") == ("kube-system", "store-m1", "store")
    for path, code in [("/containerLogs/ns/pod", 404), ("/logs/ns/pod/c", 404),
                       ("/containerLogs/ns/pod/c/x", 404), ("/containerLogs/ns/%2E%2E/c", 400),
                       ("/containerLogs/ns/a%2Fb/c", 400), ("/containerLogs/ns//c", 400)]:
        with pytest.raises(HttpError) as err:
            parse_target(path)
        assert err.value.code == code, path


def test_chunk_writer_stamps_lines_without_a_timestamp() -> None:
    out = io.BytesIO()
    writer = ChunkWriter(out, lambda: b"2024-01-02T03:04:05.000006Z ")
    writer.write([b"plain\n", b"2023-12-31T23:59:59.5+01:00 stamped\n", b""])
    writer.finish()
    body = b"2024-01-02T03:04:05.000006Z plain\n2023-12-31T23:59:59.5+01:00 stamped\n"
    assert out.getvalue() == b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


def test_status_body() -> None:
    import json
    status = json.loads(HttpError(403, "no").body())
    assert status == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": "no", "reason": "Forbidden", "code": 403}
