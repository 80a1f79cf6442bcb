"""Raft's reply rules around pysyncobj (`raftstore.raftguard`), and the pysyncobj
internals the member layer relies on, pinned so an upgrade that changes them fails here."""

from __future__ import annotations

import inspect

from hypothesis import given, settings
from hypothesis import strategies as st
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


# ---- the follower's side: delete only from the first conflict (Raft §5.3) -------------
def log_of(*terms: int) -> tuple[int, raftguard.TermAt]:
    """A follower log holding entries 1..n with the given terms."""
    held = dict(enumerate(terms, start=1))
    return len(terms), held.get


def append(prev: int, prev_term: int, *entries: tuple[int, int], term: int = 3) -> dict[str, object]:
    return {"type": "append_entries", "term": term, "commit_index": 0, "prevLogIdx": prev,
            "prevLogTerm": prev_term, "entries": [(b"cmd", idx, t) for idx, t in entries]}


def test_requests_that_do_not_overlap_pass_unchanged() -> None:
    last, term_at = log_of(1, 1, 2)
    msg = append(3, 2, (4, 3))
    assert raftguard.plan_append(msg, last, term_at, 1) == raftguard.Pass(msg)
    snapshot = {"type": "append_entries", "term": 3, "serialized": b"...", "commit_index": 0}
    assert raftguard.plan_append(snapshot, last, term_at, 1) == raftguard.Pass(snapshot)


def test_a_reset_names_the_first_index_after_what_is_known_to_match() -> None:
    # Entries 1..2 are committed; 3..5 come from an old leader.  pysyncobj would answer
    # prevLogIdx 5 with "5" (one back per round trip) and prevLogIdx 9 with "6".
    last, term_at = log_of(1, 1, 2, 2, 2)
    for msg in (append(5, 3, (6, 3)), append(9, 3, (10, 3)), append(4, 3, (5, 3))):
        plan = raftguard.plan_append(msg, last, term_at, known_good=2)
        assert plan == raftguard.Pass(msg, reset_to=3)
    # A mismatch at or below what is known to match (it cannot happen in Raft) is left to
    # pysyncobj's own answer.
    assert raftguard.plan_append(append(2, 9, (3, 3)), last, term_at, 2).reset_to is None
    reset = {"type": "next_node_idx", "next_node_idx": 6, "reset": True, "success": False}
    assert raftguard.hint_reset(reset, 3)["next_node_idx"] == 3
    assert raftguard.hint_reset({**reset, "next_node_idx": 2}, 3)["next_node_idx"] == 2  # never raised
    assert raftguard.hint_reset(reset, None) == reset
    assert raftguard.hint_reset(ACK, 3) == ACK  # acknowledgements are never changed


def test_a_conflict_deletes_from_the_conflict_only() -> None:
    last, term_at = log_of(1, 1, 2, 2)  # entries 3 and 4 are from an old leader of term 2
    msg = append(1, 1, (2, 1), (3, 3), (4, 3))
    plan = raftguard.plan_append(msg, last, term_at)
    assert isinstance(plan, raftguard.Pass)
    assert (plan.message["prevLogIdx"], plan.message["prevLogTerm"]) == (2, 1)  # entry 2 matched: kept
    assert [e[1] for e in plan.message["entries"]] == [3, 4]  # type: ignore[attr-defined]


def test_a_late_duplicate_deletes_nothing_the_follower_acknowledged() -> None:
    # The follower already holds 1..5 of this leader (term 3); a late copy of an earlier
    # request for 2..3 arrives.  pysyncobj alone would delete 4 and 5.
    last, term_at = log_of(1, 3, 3, 3, 3)
    plan = raftguard.plan_append(append(1, 1, (2, 3), (3, 3)), last, term_at)
    assert isinstance(plan, raftguard.Pass)
    assert (plan.message["prevLogIdx"], plan.message["entries"]) == (5, [])  # nothing to delete


def test_entries_past_the_request_from_another_term_are_kept_and_not_acknowledged() -> None:
    # 4 and 5 are of term 2: they may be committed (acknowledged to an earlier leader);
    # the request covers 2..3 only: nothing is deleted, and neither the commit index nor
    # the acknowledgement may go past 3.
    last, term_at = log_of(1, 3, 3, 2, 2)
    for msg in (append(1, 1, (2, 3), (3, 3)), append(3, 3)):  # entries, or a heartbeat
        plan = raftguard.plan_append({**msg, "commit_index": 5}, last, term_at)
        shown = plan.message
        assert (shown["prevLogIdx"], shown["entries"], shown["commit_index"]) == (5, [], 3)
        assert plan.ack_cap == 4
    ack = {"type": "next_node_idx", "next_node_idx": 6, "reset": False, "success": True}
    assert raftguard.cap_ack(ack, 4)["next_node_idx"] == 4
    assert raftguard.cap_ack(ack, None) == ack
    assert raftguard.cap_ack({**ack, "success": False}, 4)["next_node_idx"] == 6


def test_new_entries_after_matching_ones_are_appended_without_deleting() -> None:
    last, term_at = log_of(1, 3, 3)
    plan = raftguard.plan_append(append(1, 1, (2, 3), (3, 3), (4, 3), (5, 3)), last, term_at)
    assert isinstance(plan, raftguard.Pass)
    assert plan.message["prevLogIdx"] == 3 and [e[1] for e in plan.message["entries"]] == [4, 5]  # type: ignore[attr-defined]


def _pysyncobj_append(log: list[int], msg: dict[str, object]) -> tuple[list[int], int | None]:
    """pysyncobj's follower, as a model: on a matching prevLogIdx it deletes every entry
    after it and appends the request's; it acknowledges up to the request's end."""
    prev, entries = int(msg["prevLogIdx"]), list(msg["entries"])  # type: ignore[call-overload, arg-type]
    if prev > len(log) or (prev and log[prev - 1] != msg["prevLogTerm"]):
        return log, None  # a reset
    log = log[:prev] + [e[2] for e in entries]
    return log, (entries[-1][1] if entries else prev) + 1


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_no_request_deletes_a_matching_entry_and_every_ack_is_true(data: st.DataObject) -> None:
    leader = sorted(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=12)))  # terms, non-decreasing
    term = leader[-1]
    shared = data.draw(st.integers(0, len(leader)))
    # After the shared prefix, entries of an old leader whose term the current leader's log
    # does not hold past the prefix (Log Matching: same index and term, same history).
    floor = leader[shared - 1] if shared else 1
    old_terms = [t for t in range(floor, term) if t not in leader[shared:]]
    old = data.draw(st.sampled_from(old_terms)) if old_terms else None
    follower = leader[:shared] + ([old] * data.draw(st.integers(0, 5)) if old is not None else [])
    prev = data.draw(st.integers(0, len(leader)))
    end = data.draw(st.integers(prev, len(leader)))
    msg = {"type": "append_entries", "term": term, "prevLogIdx": prev,
           "prevLogTerm": leader[prev - 1] if prev else 0,
           "entries": [(b"c", i + 1, leader[i]) for i in range(prev, end)]}
    held = {i + 1: t for i, t in enumerate(follower)}
    plan = raftguard.plan_append(msg, len(follower), lambda i: held.get(i, 0 if i == 0 else None))
    after, ack = _pysyncobj_append(follower, plan.message)
    if ack is not None and plan.ack_cap is not None:
        ack = min(ack, plan.ack_cap)
    matching = [i for i, t in enumerate(follower) if i < len(leader) and t == leader[i]
                and follower[:i + 1] == leader[:i + 1]]
    assert all(i < len(after) and after[i] == leader[i] for i in matching), (leader, follower, msg, after)
    if ack is not None:
        assert after[:ack - 1] == leader[:ack - 1], (leader, follower, msg, after, ack)


# ---- leader and follower together: the log always converges ---------------------------
Msg = dict[str, object]


def _follower_handles(log: list[int], commit: int, msg: Msg) -> tuple[list[int], Msg]:
    """pysyncobj's follower behind raftguard, as a model: the request rewritten by
    plan_append, then pysyncobj's answer (reset to prevLogIdx on a term mismatch, to its
    last + 1 when it lacks prevLogIdx; success up to the request's end), then the reply
    rules.  `log[i]` is the term of entry i + 1; entry 1 (term 0) is the shared start."""
    held = {i + 1: t for i, t in enumerate(log)}
    plan = raftguard.plan_append(msg, len(log), held.get, min(len(log), max(commit, 1)))
    m = plan.message
    prev, entries = int(m["prevLogIdx"]), list(m["entries"])  # type: ignore[call-overload, arg-type]
    if prev not in held:
        reply = {"type": raftguard.REPLY, "next_node_idx": len(log) + 1, "reset": True, "success": False}
    elif held[prev] != m["prevLogTerm"]:
        reply = {"type": raftguard.REPLY, "next_node_idx": prev, "reset": True, "success": False}
    else:
        log = log[:prev] + [e[2] for e in entries]
        reply = {"type": raftguard.REPLY, "next_node_idx": (entries[-1][1] if entries else prev) + 1,
                 "reset": False, "success": True}
    return log, raftguard.hint_reset(raftguard.cap_ack(reply, plan.ack_cap), plan.reset_to)


def _leader_tick(leader: list[int], nxt: int, batch: int) -> tuple[list[dict[str, object]], int]:
    """pysyncobj's __sendAppendEntries, as a model: batches from nextIndex to the end of
    the log in one tick, nextIndex moved past each batch as it is sent (pipelining)."""
    term, sent, first = leader[-1], [], True
    while nxt <= len(leader) or first:
        first = False
        prev = nxt - 1
        entries = [(b"c", i, leader[i - 1]) for i in range(nxt, min(len(leader), nxt + batch - 1) + 1)]
        sent.append({"type": raftguard.APPEND, "term": term, "commit_index": 0, "prevLogIdx": prev,
                     "prevLogTerm": leader[prev - 1], "entries": entries})
        nxt = entries[-1][1] + 1 if entries else nxt
    return sent, nxt


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_follower_with_a_divergent_tail_catches_up_in_a_few_round_trips(data: st.DataObject) -> None:
    # The lab's stuck member: a former leader holds entries of its own term past the
    # committed prefix, the new leader's log is longer than one batch past it.
    shared = data.draw(st.integers(1, 30), label="shared prefix")
    leader = [0] + [1] * (shared - 1) + [3] * data.draw(st.integers(1, 40), label="new leader's entries")
    follower = leader[:shared] + [2] * data.draw(st.integers(0, 12), label="old leader's tail")
    commit = data.draw(st.integers(1, shared), label="follower's commit index")
    batch = data.draw(st.integers(1, 8), label="entries per batch")
    nxt, match = len(leader) + 1, 0  # a new leader's view of a follower
    for _ in range(12):  # ticks
        sent, nxt = _leader_tick(leader, nxt, batch)
        for msg in sent:
            follower, reply = _follower_handles(follower, commit, msg)
            admitted = raftguard.admit(reply, leader[-1], match)
            assert admitted is not None
            if admitted["reset"]:
                nxt = int(admitted["next_node_idx"])  # type: ignore[call-overload]
            if admitted["success"] and int(admitted["next_node_idx"]) - 1 > match:  # type: ignore[call-overload]
                match = int(admitted["next_node_idx"]) - 1  # type: ignore[call-overload]
                nxt = match + 1
        if follower == leader:
            return
    raise AssertionError(f"no convergence: leader {leader}, follower {follower}, next {nxt}, match {match}")
