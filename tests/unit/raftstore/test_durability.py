"""The durable journal: compaction rewrites atomically and reloads identically."""

from __future__ import annotations

from pathlib import Path

from pysyncobj.journal import FileJournal

from raftstore.durability import DurableJournal, DurableMetaStorer


def _entries(journal: FileJournal) -> list[tuple[bytes, int, int]]:
    return [journal[i] for i in range(len(journal))]


def test_compaction_keeps_the_tail_and_the_file_reloads(tmp_path: Path) -> None:
    path, dump = str(tmp_path / "raft.journal"), str(tmp_path / "raft.snapshot")
    Path(dump).write_bytes(b"snapshot")
    journal = DurableJournal(path, dump)
    for i in range(1, 201):
        journal.add(b"cmd-%d" % i * (i % 7 + 1), i, 1 + i // 50)
    journal.sync()
    journal.deleteEntriesTo(150)
    assert [e[1] for e in _entries(journal)] == list(range(151, 201))
    assert not journal.dirty  # the rewrite is durable by itself
    journal.add(b"after", 201, 5)  # appending continues in the new file
    journal.sync()
    journal._destroy()
    reloaded = FileJournal(path)
    assert [e[1] for e in _entries(reloaded)] == list(range(151, 202))
    assert reloaded[0] == (b"cmd-151" * (151 % 7 + 1), 151, 4)
    assert reloaded[-1] == (b"after", 201, 5)
    reloaded._destroy()
    assert not Path(path + ".compact").exists()


def test_an_interrupted_compaction_leaves_the_old_journal(tmp_path: Path) -> None:
    path, dump = str(tmp_path / "raft.journal"), str(tmp_path / "raft.snapshot")
    journal = DurableJournal(path, dump)
    for i in range(1, 11):
        journal.add(b"x", i, 1)
    journal.sync()
    journal._destroy()
    # A crash before the rename leaves only a stray temporary file behind.
    Path(path + ".compact").write_bytes(b"half written")
    reloaded = FileJournal(path)
    assert [e[1] for e in _entries(reloaded)] == list(range(1, 11))
    reloaded._destroy()


def test_meta_is_stored_atomically(tmp_path: Path) -> None:
    storer = DurableMetaStorer(str(tmp_path / "meta"))
    storer.storeMeta({"currentTerm": 7, "votedForNodeId": "a"})
    assert storer.getMeta() == {"currentTerm": 7, "votedForNodeId": "a"}
    assert not (tmp_path / "meta.tmp").exists()


def test_loading_a_snapshot_keeps_the_entries_after_it(tmp_path: Path) -> None:
    """What pysyncobj does at start-up when the snapshot is newer than the journal's head."""
    journal = DurableJournal(str(tmp_path / "raft.journal"), str(tmp_path / "raft.snapshot"))
    for i in range(1, 21):
        journal.add(b"e%d" % i, i, 2)
    journal.clear()
    journal.add(b"e14", 14, 2)  # the snapshot's two last entries
    journal.add(b"e15", 15, 2)
    assert [e[1] for e in _entries(journal)] == list(range(14, 21))
    journal._destroy()


def test_a_snapshot_from_another_term_replaces_the_log(tmp_path: Path) -> None:
    journal = DurableJournal(str(tmp_path / "raft.journal"), str(tmp_path / "raft.snapshot"))
    for i in range(1, 21):
        journal.add(b"e%d" % i, i, 2)
    journal.clear()
    journal.add(b"x14", 14, 3)
    journal.add(b"x15", 15, 3)  # same index, newer term: our tail is not the cluster's
    assert [e[1:] for e in _entries(journal)] == [(14, 3), (15, 3)]
    journal._destroy()


def test_a_missing_meta_file_is_a_new_member_and_a_corrupt_one_refuses(tmp_path: Path) -> None:
    import pytest
    from pysyncobj.pickle import dumps

    from raftstore.durability import CorruptMeta, read_meta

    path = tmp_path / "raft.journal.meta"
    assert read_meta(str(path)) == {}
    path.write_bytes(dumps({"term": 7, "votedForNodeId": "m2"}))
    assert read_meta(str(path)) == {"term": 7, "votedForNodeId": "m2"}
    for garbage in (b"", b"\x00\x01 not a pickle", dumps([1, 2])):
        path.write_bytes(garbage)
        with pytest.raises(CorruptMeta, match="refusing to start"):
            read_meta(str(path))
