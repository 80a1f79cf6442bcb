"""Linearizability of a register-with-CAS history (Wing & Gong's search with Lowe's
memoisation, as in Knossos and Porcupine), one key at a time.

A history is linearizable when every operation can be given a point between its invoke
and its completion such that, in that order, each result is what a single register
would have answered.  Keys are independent registers, so each key is checked alone
(P-compositionality): the search stays small and a verdict names the key.

Outcomes (see `history.Op`): `fail` operations never happened and are left out;
`unknown` writes and CAS may have happened at any point after their invoke, or never
(they complete "at infinity" and the model offers both branches); `unknown` reads
tell nothing and are left out.

Contract of `check_key`: `ok` True means a linearization exists; False comes with the
operation the deepest search could not place and the operations around it; None means
the search hit `max_steps` without a verdict (reported, never counted as a pass).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from control_plane.devtools.chaos.history import Op

State = str | None


def step(state: State, op: Op) -> list[State]:
    """The register's possible states after `op` from `state` ([] = `op` impossible here)."""
    unknown = op.outcome == "unknown"
    if op.kind == "read":
        return [state] if state == op.result else []
    if op.kind == "write":
        return [op.value, state] if unknown else [op.value]
    swapped = [op.value] if state == op.expect else []
    if unknown:
        return [*swapped, state]
    if op.result:
        return swapped
    return [state] if state != op.expect else []


@dataclass
class _Entry:
    op: Op
    time: float
    call: bool
    match: _Entry | None = None
    prev: _Entry | None = None
    next: _Entry | None = None


@dataclass
class KeyVerdict:
    key: str
    ok: bool | None
    operations: int
    steps: int
    culprit: Op | None = None
    context: list[Op] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"key": self.key, "ok": self.ok, "operations": self.operations, "steps": self.steps,
                "culprit": None if self.culprit is None else self.culprit.describe(),
                "context": [o.describe() for o in self.context]}


def relevant(ops: Iterable[Op]) -> list[Op]:
    """The operations that constrain a linearization: ok ones, and unknown writes/CAS."""
    return [o for o in ops if o.outcome == "ok" or (o.outcome == "unknown" and o.kind != "read")]


def _linked(ops: list[Op]) -> _Entry:
    """A list of call and return entries in time order (calls first on ties: the more
    permissive reading of equal timestamps); returns the head sentinel."""
    entries: list[_Entry] = []
    for op in ops:
        call = _Entry(op, op.invoke, True)
        end = math.inf if op.outcome == "unknown" or op.complete is None else op.complete
        ret = _Entry(op, end, False)
        call.match = ret
        entries += [call, ret]
    entries.sort(key=lambda e: (e.time, not e.call))
    head = _Entry(ops[0] if ops else Op(-1, "", "read", "", 0.0), -math.inf, True)
    prev = head
    for e in entries:
        prev.next, e.prev = e, prev
        prev = e
    return head


def _lift(call: _Entry) -> None:
    for e in (call, call.match):
        assert e is not None and e.prev is not None
        e.prev.next = e.next
        if e.next is not None:
            e.next.prev = e.prev


def _unlift(call: _Entry) -> None:
    for e in (call.match, call):
        assert e is not None and e.prev is not None
        e.prev.next = e
        if e.next is not None:
            e.next.prev = e


def check_key(key: str, ops: list[Op], initial: State = None, max_steps: int = 5_000_000) -> KeyVerdict:
    """Search for a linearization of `ops` (one key's operations)."""
    ops = relevant(ops)
    bit = {op.id: 1 << i for i, op in enumerate(ops)}
    head = _linked(ops)
    state: State = initial
    linearized = 0
    seen: set[tuple[int, State]] = set()
    stack: list[tuple[_Entry, State, list[State]]] = []
    entry = head.next
    steps, deepest, culprit = 0, -1, None

    def advance(call: _Entry, before: State, options: list[State]) -> bool:
        nonlocal state, linearized
        mask = bit[call.op.id]
        for i, after in enumerate(options):
            if (linearized | mask, after) in seen:
                continue
            seen.add((linearized | mask, after))
            stack.append((call, before, options[i + 1:]))
            state, linearized = after, linearized | mask
            _lift(call)
            return True
        return False

    while head.next is not None:
        steps += 1
        if steps > max_steps:
            return KeyVerdict(key, None, len(ops), steps)
        assert entry is not None
        if entry.call:
            entry = head.next if advance(entry, state, step(state, entry.op)) else entry.next
            continue
        # A completion whose operation is not placed yet: undo the last choice.
        if len(stack) > deepest:
            deepest, culprit = len(stack), entry.op
        if not stack:
            break
        call, before, rest = stack.pop()
        linearized &= ~bit[call.op.id]
        _unlift(call)
        state = before
        entry = head.next if advance(call, before, rest) else call.next
    else:
        return KeyVerdict(key, True, len(ops), steps)
    return KeyVerdict(key, False, len(ops), steps, culprit, _context(ops, culprit))


def _context(ops: list[Op], culprit: Op | None, before: int = 4) -> list[Op]:
    """The smallest piece of history that shows the failure: the last acknowledged
    operations that completed before the culprit began, and every operation whose
    interval overlaps the culprit's."""
    if culprit is None:
        return []
    end = math.inf if culprit.complete is None else culprit.complete
    earlier = [o for o in ops if o.complete is not None and o.outcome == "ok" and o.complete < culprit.invoke]
    overlapping = [o for o in ops if o.invoke <= end and (o.complete is None or o.outcome == "unknown"
                                                           or o.complete >= culprit.invoke)]
    picked = {o.id: o for o in [*earlier[-before:], *overlapping]}
    return sorted(picked.values(), key=lambda o: (o.invoke, o.id))


def check(ops: Iterable[Op], initial: dict[str, State] | None = None,
          max_steps: int = 5_000_000) -> list[KeyVerdict]:
    """Verdicts for every key of a history: each key is its own register, holding
    `initial[key]` (default: absent) before the first operation."""
    by_key: dict[str, list[Op]] = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    start = initial or {}
    return [check_key(k, v, start.get(k), max_steps) for k, v in sorted(by_key.items())]
