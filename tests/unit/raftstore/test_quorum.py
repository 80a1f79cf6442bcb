"""Removing a store member: refused when the rest would not hold a majority."""

from __future__ import annotations

import pytest

from raftstore.quorum import MemberHealth, majority, removal


def members(*healthy: bool) -> list[MemberHealth]:
    return [MemberHealth(f"m{i + 1}", ok) for i, ok in enumerate(healthy)]


@pytest.mark.parametrize(("voters", "needed"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3)])
def test_majority(voters: int, needed: int) -> None:
    assert majority(voters) == needed


@pytest.mark.parametrize(("health", "name", "ok"), [
    ((True, True, True), "m3", True),    # 3 -> 2, both healthy: 2 of 2
    ((True, False, True), "m3", False),  # 3 -> 2 with one of them down: 1 of 2
    ((True, False, True), "m2", True),   # removing the dead one: 2 of 2 healthy
    ((True, True, True, True, True), "m1", True),
    ((True, False, False, True, True), "m1", False),  # 5 -> 4 needs 3: only 2 healthy
    ((True,), "m1", False),              # the last member
])
def test_removal(health: tuple[bool, ...], name: str, ok: bool) -> None:
    verdict = removal(members(*health), name)
    assert verdict.ok is ok, verdict.reason


def test_reasons_name_the_numbers() -> None:
    assert removal(members(True, False, True), "m3").reason == (
        "1 healthy of 2 remaining members; a majority (2) is needed")
    assert "last store member" in removal(members(True), "m1").reason
