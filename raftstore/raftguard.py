"""Raft's rules for acknowledgements and log truncation, enforced around pysyncobj
(pure functions).

pysyncobj's `next_node_idx` reply (a follower's answer to AppendEntries) carries no term,
and its leader takes every reset at face value.  Two rules of the Raft paper (§5.1, §5.3)
are missing:
- A reply belongs to the term of the request it answers: a leader ignores replies from
  any other term (a delayed answer to an earlier leader, delivered over a reconnected or
  retransmitting link, must not move this term's indices).  Followers of this member
  stamp their replies with their term (`stamp`); the leader drops the ones whose term is
  not its own (`admit`).  A reply without a stamp (an older member during a rolling
  upgrade) is taken as before.
- matchIndex never goes back within a term, and nextIndex need never go below
  matchIndex + 1: everything up to matchIndex is known to match.  A reset below it is
  stale (an answer to an earlier, pipelined request) and would make the leader send
  entries the follower already acknowledged, which pysyncobj's follower answers by
  truncating its log after the request's prevLogIdx.  `admit` raises such a reset's
  index to matchIndex + 1.
- A follower deletes entries only from the first one that conflicts with the request's
  (same index, other term), never entries that match, and acknowledges only up to the
  request's last entry (§5.3).  pysyncobj deletes every entry after prevLogIdx whenever
  the log is longer, matching or not: a duplicated or late AppendEntries could so remove
  entries the follower had acknowledged, which the leader counted for a commit.
  `plan_append` rewrites such a request before pysyncobj sees it, so that pysyncobj
  deletes exactly from the conflict, or nothing; where the follower keeps entries the
  request did not cover, the rewritten request also caps the commit index and the
  acknowledgement at the request's last entry (`Pass.ack_cap`, applied by the member to
  the reply pysyncobj sends).  pysyncobj still does its bookkeeping (leader, term,
  election deadline) for every request from a current leader.
- A follower that cannot take a request (it lacks prevLogIdx, or holds it with another
  term) names, in its reset, an index the leader can certainly resume from: the first
  after what it knows matches every leader's log (its commit index, or the first entry
  it holds, which its snapshot covers).  pysyncobj's follower names prevLogIdx (one step
  back per round trip) or its own last index + 1.  With the leader's pipelined batches
  the two alternate: a follower with a divergent tail of two or more entries gets a
  reset to prevLogIdx from the first batch, then one to its last + 1 from the next batch,
  and never gets past the tail (seen in the lab: a member stuck for minutes at a
  commit index while it held the leader and its links; `Pass.reset_to`, applied by the
  member to the reply).  This is the "accelerated log backtracking" of the Raft paper's
  §5.3 (end), with the commit index as the bound instead of the conflicting term.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REPLY = "next_node_idx"
Message = dict[str, Any]


def stamp(message: Message, term: int) -> Message:
    """An outgoing reply with the sender's current term; other messages unchanged."""
    if message.get("type") != REPLY:
        return message
    return {**message, "term": term}


def admit(message: Message, term: int, match_index: int) -> Message | None:
    """An incoming reply as the leader of `term` should see it, or None to drop it."""
    if message.get("type") != REPLY:
        return message
    sent_in = message.get("term")
    if sent_in is not None and sent_in != term:
        return None
    if message.get("reset") and isinstance(message.get("next_node_idx"), int) \
            and message["next_node_idx"] <= match_index:
        return {**message, "next_node_idx": match_index + 1}
    return message


APPEND = "append_entries"
TermAt = Callable[[int], int | None]  # the follower's term at an index, None when not held


@dataclass(frozen=True)
class Pass:
    """Hand this (maybe rewritten) request to pysyncobj; with `ack_cap`, no reply to it
    may acknowledge more than `ack_cap` (a `next_node_idx` above it is lowered)."""

    message: Message
    ack_cap: int | None = None
    reset_to: int | None = None  # a reset answering this request names at most this index


def cap_ack(message: Message, cap: int | None) -> Message:
    """A reply acknowledging at most up to `cap` (other messages unchanged)."""
    if cap is None or message.get("type") != REPLY or not message.get("success"):
        return message
    if isinstance(message.get("next_node_idx"), int) and message["next_node_idx"] > cap:
        return {**message, "next_node_idx": cap}
    return message


def hint_reset(message: Message, reset_to: int | None) -> Message:
    """A reset reply naming at most `reset_to` (other messages unchanged)."""
    if reset_to is None or message.get("type") != REPLY or not message.get("reset") \
            or message.get("success"):
        return message
    if isinstance(message.get("next_node_idx"), int) and message["next_node_idx"] > reset_to:
        return {**message, "next_node_idx": reset_to}
    return message


def plan_append(message: Message, last_index: int, term_at: TermAt, known_good: int = 0) -> Pass:
    """What to do with an AppendEntries for a follower whose log ends at `last_index`.

    `known_good` is an index up to which the follower's log matches every leader's (its
    commit index, or the first entry it holds), at most `last_index`.  Only a request
    whose entries overlap the follower's log is changed; snapshots and transmissions pass
    as they came; a request whose prevLogIdx the follower does not hold with that term
    passes too (pysyncobj answers it with a reset), with `reset_to` naming
    `known_good + 1` where that is lower than pysyncobj's answer.
    """
    if message.get("type") != APPEND or ("prevLogIdx" in message and message.get("transmission")):
        return Pass(message)
    prev, prev_term = message.get("prevLogIdx"), message.get("prevLogTerm")
    entries = list(message.get("entries") or [])
    if not isinstance(prev, int):
        return Pass(message)
    held_term = term_at(prev)
    if held_term is None or held_term != prev_term:
        resume = min(known_good, last_index) + 1
        return Pass(message, reset_to=resume if held_term is None or resume <= prev else None)
    if prev >= last_index:
        return Pass(message)
    held = 0  # how many of the request's entries the follower already holds, matching
    for entry in entries:
        index, term = entry[1], entry[2]
        if index > last_index or term_at(index) != term:
            break
        held += 1
    if held < len(entries):
        # From the first entry the follower lacks or holds with another term: pysyncobj
        # deletes after the new prevLogIdx, which is exactly from the conflict (if any).
        first = entries[held]
        before_term = entries[held - 1][2] if held else prev_term
        return Pass({**message, "prevLogIdx": first[1] - 1, "prevLogTerm": before_term,
                     "entries": entries[held:]})
    last_new = entries[-1][1] if entries else prev
    if last_new == last_index or term_at(last_index) == message.get("term"):
        # Every entry the follower holds is the leader's: at its end either the request's
        # own last entry, or one of the leader's term (Log Matching: same index and
        # term, same log up to there).  Nothing to delete; acknowledging up to the end
        # is the truth.
        return Pass({**message, "prevLogIdx": last_index, "prevLogTerm": term_at(last_index),
                     "entries": []})
    # The follower holds entries after the request's last one, of another term: Raft keeps
    # them (they may be acknowledged, committed entries), pysyncobj would delete them.  So
    # pysyncobj sees a request ending at the follower's last entry (nothing to delete),
    # but may neither commit nor acknowledge past what the request itself covered.
    commit = message.get("commit_index")
    capped = min(commit, last_new) if isinstance(commit, int) else commit
    return Pass({**message, "prevLogIdx": last_index, "prevLogTerm": term_at(last_index), "entries": [],
                 "commit_index": capped}, ack_cap=last_new + 1)
