"""The work queue's contract (client-go's workqueue): a key is at most once in the queue,
never handed to two workers at once, re-added while busy it comes back after `done()`;
`add_after`/`retry` due times follow the injected clock.

`get(timeout)` waits in real time, so every call here uses a small timeout: a `None`
means "nothing is due", never a wait for time to pass.
"""

from __future__ import annotations

import threading

import pytest

from control_plane.client.clock import FakeClock
from control_plane.client.workqueue import WorkQueue

NOTHING = 0.01  # seconds get() may wait to show that nothing is there


def drain(q: WorkQueue) -> list[str]:
    """Every key ready now, marking each done."""
    keys = []
    while (key := q.get(NOTHING)) is not None:
        keys.append(key)
        q.done(key)
    return keys


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def q(clock: FakeClock) -> WorkQueue:
    return WorkQueue(clock)


def test_keys_come_out_in_order_and_each_at_most_once(q: WorkQueue) -> None:
    for key in ("a", "b", "a", "c", "b", "a"):
        q.add(key)
    assert drain(q) == ["a", "b", "c"]
    assert q.get(NOTHING) is None


def test_an_empty_queue_returns_none_after_the_timeout(q: WorkQueue) -> None:
    assert q.get(0.0) is None
    assert q.get(NOTHING) is None


def test_a_busy_key_is_not_handed_to_a_second_worker(q: WorkQueue) -> None:
    q.add("a")
    assert q.get(NOTHING) == "a"
    q.add("a")  # a change arrives while the first worker is still on it
    assert q.get(NOTHING) is None  # a second worker must not get it now...
    q.done("a")
    assert q.get(NOTHING) == "a"  # ...but it comes back once the first is done
    q.done("a")
    assert q.get(NOTHING) is None


def test_a_key_re_added_many_times_while_busy_comes_back_once(q: WorkQueue) -> None:
    q.add("a")
    assert q.get(NOTHING) == "a"
    for _ in range(3):
        q.add("a")
    q.add("b")
    assert q.get(NOTHING) == "b"  # other keys flow meanwhile
    q.done("b")
    q.done("a")
    assert drain(q) == ["a"]


def test_done_without_a_re_add_does_not_requeue(q: WorkQueue) -> None:
    q.add("a")
    assert q.get(NOTHING) == "a"
    q.done("a")
    q.done("a")  # twice, or for a key never handed out: harmless
    q.done("never")
    assert q.get(NOTHING) is None


def test_add_after_is_due_on_the_injected_clock(q: WorkQueue, clock: FakeClock) -> None:
    q.add_after("a", 5.0)
    assert q.get(NOTHING) is None
    clock.advance(4.9)
    assert q.get(NOTHING) is None
    clock.advance(0.1)  # due exactly now
    assert q.get(NOTHING) == "a"
    q.done("a")
    assert q.get(NOTHING) is None  # once


def test_delayed_keys_come_out_in_due_order(q: WorkQueue, clock: FakeClock) -> None:
    q.add_after("late", 3.0)
    q.add_after("early", 1.0)
    q.add_after("now", 0.0)
    assert drain(q) == ["now"]
    clock.advance(5.0)
    assert drain(q) == ["early", "late"]


def test_add_after_of_a_queued_key_does_not_duplicate_it(q: WorkQueue, clock: FakeClock) -> None:
    q.add("a")
    q.add_after("a", 1.0)
    q.add_after("a", 2.0)
    clock.advance(2.0)
    assert drain(q) == ["a"]


def test_a_delayed_key_that_falls_due_while_busy_waits_for_done(q: WorkQueue, clock: FakeClock) -> None:
    q.add("a")
    assert q.get(NOTHING) == "a"
    q.add_after("a", 1.0)
    clock.advance(1.0)
    assert q.get(NOTHING) is None  # due, but still busy
    q.done("a")
    assert q.get(NOTHING) == "a"


def test_retry_backs_off_exponentially_up_to_30s_and_forget_resets(q: WorkQueue, clock: FakeClock) -> None:
    # client-go's default controller rate limiter: 5 ms doubling per failure, capped.
    delays = [q.retry("a") for _ in range(15)]
    assert delays[:4] == [0.01, 0.02, 0.04, 0.08]
    assert delays[-1] == 30.0 and max(delays) == 30.0
    assert delays == sorted(delays)
    q.forget("a")
    assert q.retry("a") == 0.01
    assert q.retry("b") == 0.01  # failures are counted per key


def test_a_retried_key_comes_back_after_its_delay(q: WorkQueue, clock: FakeClock) -> None:
    q.add("a")
    key = q.get(NOTHING)
    assert key == "a"
    delay = q.retry(key)  # the reconcile failed
    q.done(key)
    assert q.get(NOTHING) is None
    clock.advance(delay)
    assert q.get(NOTHING) == "a"


def test_a_blocked_get_wakes_up_when_a_key_is_added(q: WorkQueue) -> None:
    got: list[str | None] = []
    waiting = threading.Thread(target=lambda: got.append(q.get(10.0)))
    waiting.start()
    q.add("a")
    waiting.join(10.0)  # a deadline, not a sleep: it returns as soon as the key arrives
    assert got == ["a"]


def test_concurrent_workers_never_share_a_key_and_lose_no_add() -> None:
    q = WorkQueue(FakeClock())
    lock = threading.Lock()
    active: set[str] = set()
    overlaps: list[str] = []
    seq = [0]
    last_add: dict[str, int] = {}
    last_start: dict[str, int] = {}
    producing = threading.Event()
    producing.set()

    def note(marks: dict[str, int], key: str) -> None:
        with lock:
            seq[0] += 1
            marks[key] = max(marks.get(key, 0), seq[0])

    def add(key: str) -> None:
        note(last_add, key)  # before the add: a start after the add is later
        q.add(key)

    def worker() -> None:
        n = 0
        while True:
            finished = not producing.is_set()  # read before get(): every add came before it
            key = q.get(NOTHING)
            if key is None:
                with lock:
                    if finished and not active:
                        return
                continue
            with lock:
                if key in active:
                    overlaps.append(key)
                active.add(key)
            note(last_start, key)
            n += 1
            if n % 3 == 0:
                add(key)  # a change to the object while it is being reconciled
            with lock:
                active.discard(key)
            q.done(key)

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for t in workers:
        t.start()
    for i in range(400):
        add(f"k{i % 7}")
    producing.clear()
    for t in workers:
        t.join(20.0)
    assert not any(t.is_alive() for t in workers)
    assert overlaps == []
    # every key was reconciled after its last add: nothing added was lost
    assert all(last_start[k] > last_add[k] for k in last_add), (last_add, last_start)
    assert q.get(NOTHING) is None
