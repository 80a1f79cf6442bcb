"""Raft's rules for acknowledgements, enforced around pysyncobj (pure functions).

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
"""

from __future__ import annotations

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
