"""The chaos checker on hand-written histories: each verdict must be right."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from control_plane.devtools.chaos.checks import (
    convergence,
    lost_and_duplicated,
    summary_stats,
    unavailability,
    watch_anomalies,
)
from control_plane.devtools.chaos.history import Op, WatchEvent
from control_plane.devtools.chaos.linearizable import check, check_key

_ids = iter(range(1_000_000))


def op(client: str, kind: str, t0: float, t1: float | None, *, value: str | None = None,
       expect: str | None = None, result: object = None, outcome: str = "ok", key: str = "k",
       revision: int = 0) -> Op:
    return Op(next(_ids), client, kind, key, t0, value=value, expect=expect, complete=t1,  # type: ignore[arg-type]
              outcome=outcome, result=result, revision=revision)  # type: ignore[arg-type]


# ---- linearizability ---------------------------------------------------------------------

def test_sequential_history_is_linearizable() -> None:
    h = [op("a", "write", 0, 1, value="x"), op("b", "read", 2, 3, result="x"),
         op("a", "cas", 4, 5, expect="x", value="y", result=True), op("b", "read", 6, 7, result="y"),
         op("b", "cas", 8, 9, expect="x", value="z", result=False)]
    assert check_key("k", h).ok is True


def test_concurrent_reads_may_see_either_side_of_an_overlapping_write() -> None:
    h = [op("a", "write", 0, 1, value="x"),
         op("a", "write", 2, 6, value="y"),
         op("b", "read", 3, 4, result="y"),   # the write took effect early
         op("c", "read", 3, 5, result="x")]   # ... but this read began before: fine if it read first
    assert check_key("k", h).ok is True


def test_stale_read_is_caught() -> None:
    h = [op("a", "write", 0, 1, value="x"), op("a", "write", 2, 3, value="y"),
         op("b", "read", 4, 5, result="x")]  # y was acknowledged before this read began
    verdict = check_key("k", h)
    assert verdict.ok is False
    assert verdict.culprit is not None and verdict.culprit.kind == "read"
    assert any(o.value == "y" for o in verdict.context)


def test_read_of_a_value_nobody_wrote_is_caught() -> None:
    assert check_key("k", [op("a", "write", 0, 1, value="x"), op("b", "read", 2, 3, result="q")]).ok is False


def test_lost_acknowledged_write_is_caught_by_a_later_read() -> None:
    h = [op("a", "write", 0, 1, value="x"), op("b", "write", 2, 3, value="y"),
         op("a", "read", 4, 5, result="x"), op("a", "read", 6, 7, result="x")]
    assert check_key("k", h).ok is False


def test_cas_success_against_a_stale_value_is_caught() -> None:
    h = [op("a", "write", 0, 1, value="x"), op("a", "write", 2, 3, value="y"),
         op("b", "cas", 4, 5, expect="x", value="z", result=True)]
    assert check_key("k", h).ok is False


def test_failed_cas_needs_a_different_value() -> None:
    h = [op("a", "write", 0, 1, value="x"), op("b", "cas", 2, 3, expect="x", value="z", result=False)]
    assert check_key("k", h).ok is False
    h.append(op("c", "write", 1.5, 2.5, value="w"))  # a concurrent write explains the failure
    assert check_key("k", h).ok is True


def test_unknown_write_may_or_may_not_have_happened() -> None:
    base = [op("a", "write", 0, 1, value="x"), op("b", "write", 2, None, value="y", outcome="unknown")]
    assert check_key("k", [*base, op("c", "read", 10, 11, result="y")]).ok is True  # it happened
    assert check_key("k", [*base, op("c", "read", 10, 11, result="x")]).ok is True  # it did not
    # ... but never before it was invoked
    early = [op("a", "write", 0, 1, value="x"), op("c", "read", 1.2, 1.5, result="y"),
             op("b", "write", 2, None, value="y", outcome="unknown")]
    assert check_key("k", early).ok is False


def test_failed_operations_never_happened() -> None:
    h = [op("a", "write", 0, 1, value="x"), op("b", "write", 2, 3, value="y", outcome="fail"),
         op("c", "read", 4, 5, result="y")]
    assert check_key("k", h).ok is False


def test_keys_are_checked_apart_and_initial_values_count() -> None:
    h = [op("a", "read", 0, 1, result="v0", key="k1"), op("a", "write", 0, 1, value="x", key="k2"),
         op("b", "read", 2, 3, result="x", key="k2")]
    verdicts = {v.key: v.ok for v in check(h, initial={"k1": "v0"})}
    assert verdicts == {"k1": True, "k2": True}
    assert {v.key: v.ok for v in check(h)}["k1"] is False


def test_step_budget_gives_no_verdict_rather_than_a_pass() -> None:
    h = [op(f"c{i}", "write", 0, 10, value=f"v{i}") for i in range(12)]
    h.append(op("r", "read", 11, 12, result="nobody"))
    assert check_key("k", h, max_steps=50).ok is None


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=5))
def test_any_history_produced_by_a_real_register_is_linearizable(seed: int, clients: int) -> None:
    """Simulate a register: each op takes effect at a random instant inside its interval."""
    assert check_key("k", simulated(random.Random(seed), clients)).ok is True


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_a_simulated_history_with_one_read_corrupted_is_not(seed: int) -> None:
    rng = random.Random(seed)
    ops = simulated(rng, 3)
    reads = [o for o in ops if o.kind == "read" and o.outcome == "ok"]
    if not reads:
        return
    rng.choice(reads).result = "never-written"
    assert check_key("k", ops).ok is False


def simulated(rng: random.Random, clients: int, per_client: int = 12) -> list[Op]:
    """Ops whose effects happen at a random point of their interval, in point order."""
    planned = []
    for c in range(clients):
        t = 0.0
        for n in range(per_client):
            start = t + rng.random()
            end = start + rng.random() * 2
            planned.append((rng.uniform(start, end), start, end, f"c{c}", n))
            t = end
    state: str | None = None
    out = []
    for point, start, end, client, n in sorted(planned):
        del point
        kind = rng.choice(["read", "write", "cas"])
        value = f"{client}-{n}"
        if kind == "read":
            out.append(op(client, "read", start, end, result=state))
        elif kind == "write":
            state = value
            out.append(op(client, "write", start, end, value=value))
        else:
            expect = state if rng.random() < 0.6 else "other"
            ok = state == expect
            state = value if ok else state
            out.append(op(client, "cas", start, end, expect=expect, value=value, result=ok))
    return out


# ---- lost and duplicated writes --------------------------------------------------------

def ev(rev: int, value: str | None, key: str = "k") -> WatchEvent:
    return WatchEvent(rev, key, value, 0.0)


def test_every_acknowledged_write_in_the_store_history_passes() -> None:
    ops = [op("a", "write", 0, 1, value="x", revision=5), op("b", "write", 0, 1, value="y", revision=7),
           op("c", "write", 2, None, value="z", outcome="unknown")]  # unknown and absent: fine
    assert lost_and_duplicated(ops, [ev(5, "x"), ev(7, "y")]) == []


def test_acknowledged_write_missing_from_the_store_is_lost() -> None:
    ops = [op("a", "write", 0, 1, value="x", revision=5), op("b", "write", 0, 1, value="y", revision=7)]
    found = lost_and_duplicated(ops, [ev(5, "x")])
    assert [a.kind for a in found] == ["lost"] and "'y'" in found[0].detail


def test_write_at_another_revision_than_acknowledged_is_lost() -> None:
    found = lost_and_duplicated([op("a", "write", 0, 1, value="x", revision=5)], [ev(9, "x")])
    assert [a.kind for a in found] == ["lost"]


def test_write_applied_twice_is_caught() -> None:
    ops = [op("a", "write", 0, 1, value="x", revision=5)]
    found = lost_and_duplicated(ops, [ev(5, "x"), ev(6, "x")])
    assert [a.kind for a in found] == ["duplicated"]
    # an unknown write applied twice is as wrong
    ops = [op("a", "write", 0, None, value="q", outcome="unknown")]
    assert [a.kind for a in lost_and_duplicated(ops, [ev(5, "q"), ev(8, "q")])] == ["duplicated"]


def test_failed_cas_writes_nothing_and_is_not_checked() -> None:
    ops = [op("a", "cas", 0, 1, expect="x", value="y", result=False)]
    assert lost_and_duplicated(ops, []) == []


# ---- watch ---------------------------------------------------------------------------

def test_watch_with_every_revision_once_in_order_passes() -> None:
    ref = [ev(3, "a"), ev(4, "b"), ev(9, None)]
    assert watch_anomalies(ref, ref) == []
    assert watch_anomalies(ref[:2], ref) == []  # the watcher stopped early: no gap


def test_watch_gap_is_caught() -> None:
    found = watch_anomalies([ev(3, "a"), ev(9, None)], [ev(3, "a"), ev(4, "b"), ev(9, None)])
    assert [a.kind for a in found] == ["watch-gap"] and "revision 4" in found[0].detail


def test_watch_duplicate_and_reorder_are_caught() -> None:
    ref = [ev(3, "a"), ev(4, "b")]
    assert [a.kind for a in watch_anomalies([ev(3, "a"), ev(3, "a"), ev(4, "b")], ref)] == ["watch-duplicate"]
    assert [a.kind for a in watch_anomalies([ev(4, "b"), ev(3, "a")], ref)] == ["watch-order"]


def test_watch_event_the_store_never_had_is_caught() -> None:
    assert [a.kind for a in watch_anomalies([ev(3, "zz")], [ev(3, "a")])] == ["watch-gap", "watch-phantom"]


# ---- convergence, availability -------------------------------------------------------

def test_convergence() -> None:
    assert convergence({"m1": (10, 77), "m2": (10, 77)}) == []
    assert [a.kind for a in convergence({"m1": (10, 77), "m2": (10, 78)})] == ["diverged"]
    assert [a.kind for a in convergence({"m1": (10, 77), "m2": "timed out"})] == ["diverged"]


def test_unavailability_is_the_longest_stretch_without_an_acknowledged_write() -> None:
    ops = [op("a", "write", 0.0, 0.1, value="1"), op("a", "write", 1.0, 2.0, value="2", outcome="unknown"),
           op("b", "write", 1.2, 2.2, value="3", outcome="fail"), op("a", "write", 2.0, 2.6, value="4"),
           op("b", "write", 2.6, 2.7, value="5"), op("a", "read", 3.0, 3.1, result="5"),
           op("a", "write", 5.2, 5.3, value="6"), op("a", "write", 6.0, 6.1, value="7")]
    # fault at 0.9: nothing acknowledged until 2.6; fault at 5.0: first ack 0.3 s later,
    # then 0.8 s between the two acks
    assert unavailability(ops, [0.9, 5.0]) == [1.7, 0.8]
    assert summary_stats([1.6, 0.0, 0.4]) == {"p50": 0.4, "max": 1.6}
    # never answered again: counts until the run's last operation
    assert unavailability([op("a", "write", 1.0, 2.0, value="x", outcome="fail")], [0.5]) == [1.5]
