"""The scheduling queue (active, back-off, unschedulable) and the scheduler's cache
(nodes with what is placed on them, assumed pods), driven by a fake clock."""

from __future__ import annotations

from control_plane.api.objects import Obj
from control_plane.client.clock import FakeClock
from control_plane.devtools.hollow import hollow_node
from control_plane.scheduler.cache import SchedulerCache
from control_plane.scheduler.queue import SchedulingQueue
from control_plane.scheduler.view import PodView

NOW = 0.01  # pop() blocks in real time: tests only use tiny timeouts


def test_active_keys_come_out_once_in_order() -> None:
    q = SchedulingQueue(clock=FakeClock())
    for key in ("a", "b", "a"):
        q.add(key)
    assert [q.pop(NOW), q.pop(NOW), q.pop(NOW)] == ["a", "b", None]


def test_backoff_doubles_to_ten_seconds_on_the_clock() -> None:
    clock = FakeClock()
    q = SchedulingQueue(clock=clock)
    assert [q.backoff("p") for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert q.pop(NOW) is None  # nothing is due yet
    clock.advance(1.0)
    assert q.pop(NOW) == "p"
    q.done("p")
    assert q.backoff("p") == 1.0  # a bound pod's attempts are forgotten


def test_unschedulable_waits_for_a_cluster_change_or_the_flush() -> None:
    clock = FakeClock()
    q = SchedulingQueue(flush_after=60, clock=clock)
    q.unschedulable("p")
    assert q.is_unschedulable("p") and q.pop(NOW) is None
    clock.advance(59)
    assert q.pop(NOW) is None
    clock.advance(1)
    assert q.pop(NOW) == "p" and not q.is_unschedulable("p")
    q.unschedulable("p")
    q.move_unschedulable()  # a node appeared: try again now
    assert q.pop(NOW) == "p"


def test_remove_forgets_a_key_everywhere() -> None:
    q = SchedulingQueue(clock=FakeClock())
    q.add("a")
    q.unschedulable("b")
    q.remove("a")
    q.remove("b")
    q.move_unschedulable()
    assert q.pop(NOW) is None and len(q) == 0


def pod(name: str, node: str | None = None, cpu: str = "500m", phase: str = "Pending") -> Obj:
    spec: Obj = {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec, "status": {"phase": phase}}


def test_cache_counts_placed_pods_and_frees_them() -> None:
    cache = SchedulerCache()
    assert cache.node_event("ADDED", hollow_node("w1", cpu="2")) is True
    assert cache.pod_event("ADDED", pod("a", "w1")) is False
    [w1] = cache.views()
    assert w1.requested_cpu_m == 500
    assert cache.pod_event("MODIFIED", pod("a", "w1", phase="Succeeded")) is True  # terminal: freed
    assert cache.views()[0].requested_cpu_m == 0
    cache.pod_event("ADDED", pod("b", "w1"))
    assert cache.pod_event("DELETED", pod("b", "w1")) is True
    assert cache.pod_event("DELETED", pod("b", "w1")) is False  # nothing left to free


def test_a_node_change_reports_whether_filters_may_now_pass() -> None:
    cache = SchedulerCache()
    cache.node_event("ADDED", hollow_node("w1"))
    assert cache.node_event("MODIFIED", hollow_node("w1")) is False  # the same for the filters
    assert cache.node_event("MODIFIED", hollow_node("w1", cpu="8")) is True  # more room
    cache.pod_event("ADDED", pod("a", "w1"))
    cache.node_event("MODIFIED", hollow_node("w1", cpu="16"))
    assert cache.views()[0].requested_cpu_m == 500  # its pods stay counted across updates
    assert cache.node_event("DELETED", hollow_node("w1")) is False and cache.views() == []


def test_assume_then_confirm_or_forget() -> None:
    cache = SchedulerCache()
    cache.node_event("ADDED", hollow_node("w1"))
    view = PodView.from_object(pod("a"))
    cache.assume("default/a", "w1", view)
    assert cache.is_assumed("default/a") and cache.views()[0].requested_cpu_m == 500
    cache.forget("default/a")  # the binding failed
    assert not cache.is_placed("default/a") and cache.views()[0].requested_cpu_m == 0
    cache.assume("default/a", "w1", view)
    cache.pod_event("MODIFIED", pod("a", "w1"))  # the informer confirms the binding
    assert not cache.is_assumed("default/a") and cache.is_placed("default/a")
    cache.forget("default/a")  # no longer assumed: nothing to undo
    assert cache.views()[0].requested_cpu_m == 500
