"""Raft's reply rules around pysyncobj (`raftstore.raftguard`), and the pysyncobj
internals the member layer relies on, pinned so an upgrade that changes them fails here."""

from __future__ import annotations

import inspect

from pysyncobj import SyncObj

from raftstore import raftguard

ACK = {"type": "next_node_idx", "next_node_idx": 42, "reset": False, "success": True}
RESET = {"type": "next_node_idx", "next_node_idx": 30, "reset": True, "success": False}


def test_replies_are_stamped_with_the_term_and_nothing_else_is() -> None:
    assert raftguard.stamp(ACK, 7) == {**ACK, "term": 7}
    other = {"type": "append_entries", "term": 3}
    assert raftguard.stamp(other, 7) is other


def test_a_reply_from_another_term_is_dropped() -> None:
    assert raftguard.admit({**ACK, "term": 6}, 7, 0) is None  # a late answer to an earlier leader
    assert raftguard.admit({**ACK, "term": 8}, 7, 0) is None
    assert raftguard.admit({**ACK, "term": 7}, 7, 0) == {**ACK, "term": 7}
    assert raftguard.admit(ACK, 7, 0) == ACK  # unstamped (an older member): as before


def test_a_stale_reset_never_moves_next_index_below_match_index() -> None:
    assert raftguard.admit({**RESET, "term": 7}, 7, 35)["next_node_idx"] == 36  # type: ignore[index]
    assert raftguard.admit({**RESET, "term": 7}, 7, 29) == {**RESET, "term": 7}  # a genuine reset
    assert raftguard.admit({**ACK, "term": 7}, 7, 50) == {**ACK, "term": 7}  # acks are never changed


def test_the_pysyncobj_internals_the_member_layer_uses_are_there() -> None:
    # Member wraps the transport's send and receive callbacks and reads these by their
    # mangled names; the reply format is what raftguard expects.
    source = inspect.getsource(SyncObj)
    for name in ("__onMessageReceived", "__raftMatchIndex", "__raftLog", "__transport",
                 "__raftElectionDeadline", "__sendAppendEntries", "__pipeNotifier"):
        assert f"self.{name}" in source, name
    assert "'type': 'next_node_idx'" in source and "'reset': reset" in source
    assert "message['next_node_idx']" in source and "message['reset']" in source
    assert isinstance(SyncObj.raftCurrentTerm, property)
