"""The checks a chaos run ends with, besides linearizability (`linearizable.py`).

Each returns a list of `Anomaly` (empty = the check passed).  Inputs are plain data
(operations, watch events, member answers), so every check is a pure function tested
on hand-written histories.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from control_plane.devtools.chaos.history import Op, WatchEvent


@dataclass
class Anomaly:
    """One thing that went wrong: `kind` names the check, `detail` says what, `ops`
    is the piece of history that shows it (readable lines)."""

    kind: str  # nonlinearizable | lost | duplicated | watch-gap | watch-duplicate | ...
    detail: str
    ops: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "detail": self.detail, "ops": self.ops}


def writes_of(ops: Sequence[Op]) -> list[Op]:
    """Store-layer operations that put a value: writes, and CAS that (may have) swapped."""
    return [o for o in ops if o.layer == "store" and o.value is not None
            and (o.kind == "write" or (o.kind == "cas" and (o.outcome == "unknown" or o.result is True)))]


def lost_and_duplicated(ops: Sequence[Op], reference: Sequence[WatchEvent]) -> list[Anomaly]:
    """Compare what writers were told with the store's own history of the keys
    (`reference`: every event of the key range since the run began, read after healing).

    - lost: an acknowledged write whose value is not in the history, or is there at a
      revision other than the one the write was acknowledged with;
    - duplicated: a value (each write's is unique) that the history holds twice.
    """
    events: dict[str, list[WatchEvent]] = {}
    for ev in reference:
        if ev.value is not None:
            events.setdefault(ev.value, []).append(ev)
    found: list[Anomaly] = []
    for op in writes_of(ops):
        seen = events.get(op.value or "", [])
        if len(seen) > 1:
            revs = ", ".join(str(e.revision) for e in seen)
            found.append(Anomaly("duplicated", f"{op.value!r} was applied {len(seen)} times "
                                 f"(revisions {revs})", [op.describe()]))
        if op.outcome != "ok":
            continue
        if not seen:
            found.append(Anomaly("lost", f"acknowledged write {op.value!r} (revision {op.revision}) "
                                 f"is not in the store's history of {op.key}", [op.describe()]))
        elif op.revision and all(e.revision != op.revision for e in seen):
            found.append(Anomaly("lost", f"{op.value!r} was acknowledged at revision {op.revision} "
                                 f"but the store holds it at {seen[0].revision}", [op.describe()]))
    return found


def watch_anomalies(live: Sequence[WatchEvent], reference: Sequence[WatchEvent]) -> list[Anomaly]:
    """A watch must deliver each revision once, in order, with no gap: `live` (what the
    run's watcher got, across member failures) against `reference` (the store's history
    read after healing), up to the last revision the watcher reached."""
    found: list[Anomaly] = []
    last = 0
    for ev in live:
        if ev.revision < last:
            found.append(Anomaly("watch-order", f"revision {ev.revision} came after {last}"))
        elif ev.revision == last:
            found.append(Anomaly("watch-duplicate", f"revision {ev.revision} was delivered twice"))
        last = max(last, ev.revision)
    got = {(e.revision, e.key, e.value) for e in live}
    want = [e for e in reference if e.revision <= last]
    missing = [e for e in want if (e.revision, e.key, e.value) not in got]
    if missing:
        found.append(Anomaly("watch-gap", f"{len(missing)} events never delivered, first at revision "
                             f"{missing[0].revision} ({missing[0].key})",
                             [f"rev {e.revision} {e.key} = {e.value!r}" for e in missing[:5]]))
    phantom = {(e.revision, e.key, e.value) for e in reference}
    extra = [e for e in live if (e.revision, e.key, e.value) not in phantom]
    if extra:
        found.append(Anomaly("watch-phantom", f"{len(extra)} events delivered that the store never had",
                             [f"rev {e.revision} {e.key} = {e.value!r}" for e in extra[:5]]))
    return found


def convergence(members: dict[str, tuple[int, int] | str]) -> list[Anomaly]:
    """Every member's `(revision, content hash)` at one common revision must agree
    (a string is a member that could not answer)."""
    answers = {m: a for m, a in members.items() if not isinstance(a, str)}
    found = [Anomaly("diverged", f"member {m} did not answer: {a}") for m, a in members.items()
             if isinstance(a, str)]
    if len(set(answers.values())) > 1:
        found.append(Anomaly("diverged", "members disagree on (revision, hash): " +
                             ", ".join(f"{m}={a}" for m, a in sorted(answers.items()))))
    return found


def unavailability(ops: Sequence[Op], fault_times: Sequence[float]) -> list[float]:
    """For each fault (time it was injected): the longest stretch, from the fault until
    the next one, during which no write was acknowledged.

    This is "first failed write to the next acknowledged one", also counting writes
    that did not fail but waited (a client that fails over to another member, or a
    member that holds a request while a new leader is elected): both are time the
    store could not take writes.  A store that never answered again counts until the
    end of the run."""
    acks = sorted(o.complete for o in ops
                  if o.layer == "store" and o.kind != "read" and o.outcome == "ok" and o.complete is not None)
    end = max((o.complete or o.invoke for o in ops), default=0.0)
    gaps: list[float] = []
    for i, t in enumerate(fault_times):
        until = fault_times[i + 1] if i + 1 < len(fault_times) else end
        worst, prev = 0.0, t
        for c in acks:
            if c < t:
                continue
            if c > until:
                break
            worst, prev = max(worst, c - prev), c
        gaps.append(round(max(worst, until - prev if prev == t else 0.0), 3))
    return gaps


def summary_stats(gaps: Sequence[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(gaps), 3) if gaps else 0.0,
            "max": round(max(gaps), 3) if gaps else 0.0}
