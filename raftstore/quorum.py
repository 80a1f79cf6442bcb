"""Quorum arithmetic: may a member be removed without the store losing its majority?

Raft commits with a majority of the voting members.  After removing member M from N,
the remaining N-1 need floor((N-1)/2)+1 of them healthy; the last member can never be
removed.  Pure: the caller passes what each member's status said.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MemberHealth:
    name: str
    healthy: bool  # answered its status without error


@dataclass(frozen=True)
class RemovalVerdict:
    member: str
    remaining: int
    healthy_others: int
    needed: int

    @property
    def ok(self) -> bool:
        return self.remaining >= 1 and self.healthy_others >= self.needed

    @property
    def reason(self) -> str:
        if self.remaining < 1:
            return f"{self.member} is the last store member"
        return (f"{self.healthy_others} healthy of {self.remaining} remaining members; "
                f"a majority ({self.needed}) is needed")


def majority(voters: int) -> int:
    """The smallest majority of `voters` members."""
    return voters // 2 + 1


def removal(members: list[MemberHealth], name: str) -> RemovalVerdict:
    """The verdict on removing `name`, one of `members` (every voting member, one row each;
    a member that did not answer is unhealthy and may be unnamed)."""
    remaining = len(members) - 1
    healthy_others = sum(1 for m in members if m.healthy and m.name != name)
    return RemovalVerdict(name, remaining, healthy_others, majority(remaining) if remaining else 1)
