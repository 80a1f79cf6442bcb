"""The informer (client-go's reflector + store, in small) against the in-memory API: it
lists, then applies watch events from the list's version; a watch that ends resumes
where it was; after an error or 410 it lists again and reports the differences, so a
handler sees every object's latest state, deletions included.

The informer runs its own thread; the tests wait for conditions with deadlines (never a
fixed sleep).  After an error the informer backs off 0.2-0.4 s of real time before it
lists again: that is the product's own pause, the only real time these tests spend.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import cast

import pytest

from control_plane.api import paths
from control_plane.api.objects import Obj, object_key
from control_plane.client.apiclient import ApiClient
from control_plane.client.errors import Unreachable
from control_plane.client.fake import FakeApiClient
from control_plane.client.informer import Informer

PODS, NODES = paths.resource("pods"), paths.resource("nodes")
DEFAULT = paths.path(PODS, "default")
DEADLINE = 10.0  # generous: the machine is shared; a pass takes milliseconds


def pod(name: str, **labels: str) -> Obj:
    return {"metadata": {"name": name, "labels": labels}, "spec": {"containers": [{"name": "c"}]}}


def pod_path(name: str) -> str:
    return paths.path(PODS, "default", name)


class Recorder:
    """A handler that records `(type, name)` and checks the cache was updated first."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.cache_behind: list[tuple[str, str]] = []
        self.informer: Informer | None = None
        self._cond = threading.Condition()

    def __call__(self, kind: str, obj: Obj) -> None:
        assert self.informer is not None
        cached = self.informer.get(object_key(obj))
        expected = None if kind == "DELETED" else obj
        if cached != expected:
            self.cache_behind.append((kind, obj["metadata"]["name"]))
        with self._cond:
            self.events.append((kind, obj["metadata"]["name"]))
            self._cond.notify_all()

    def wait_for(self, *wanted: tuple[str, str]) -> list[tuple[str, str]]:
        """Wait until every `wanted` event was seen; the events so far."""
        with self._cond:
            ok = self._cond.wait_for(lambda: all(w in self.events for w in wanted), DEADLINE)
            assert ok, f"waited for {wanted}, saw {self.events}"
            return list(self.events)


Start = Callable[..., tuple[Informer, Recorder]]  # the `start` fixture: an informer, synced


@pytest.fixture
def api() -> Iterator[FakeApiClient]:
    fake = FakeApiClient()
    yield fake
    fake.close()


@pytest.fixture
def start(api: FakeApiClient) -> Iterator[Start]:
    started: list[Informer] = []

    def run(path_ns: str | None = "default", **kwargs: str) -> tuple[Informer, Recorder]:
        recorder = Recorder()
        informer = Informer(cast(ApiClient, api), PODS, path_ns, handler=recorder, **kwargs)
        recorder.informer = informer
        started.append(informer.start())
        assert informer.synced.wait(DEADLINE)
        return informer, recorder

    yield run
    for informer in started:
        informer.stop()
    api.close()  # ends the streams, so the threads notice stop()
    for informer in started:
        informer._thread.join(DEADLINE)
        assert not informer._thread.is_alive()


def test_lists_then_applies_watch_events(api: FakeApiClient, start: Start) -> None:
    api.create(DEFAULT, pod("a"))
    api.create(DEFAULT, pod("b"))
    informer, rec = start()
    assert sorted(rec.events) == [("ADDED", "a"), ("ADDED", "b")]  # from the list, before synced
    assert {object_key(o) for o in informer.items()} == {"default/a", "default/b"}
    listed = informer.get("default/a")
    assert listed is not None and (listed["kind"], listed["apiVersion"]) == ("Pod", "v1")
    assert api.wait_watching(1, DEADLINE)
    api.create(DEFAULT, pod("c"))
    api.replace(pod_path("a"), pod("a", v="2"))
    api.delete(pod_path("b"))
    events = rec.wait_for(("ADDED", "c"), ("MODIFIED", "a"), ("DELETED", "b"))
    assert events[2:] == [("ADDED", "c"), ("MODIFIED", "a"), ("DELETED", "b")]  # in order, once each
    assert {object_key(o) for o in informer.items()} == {"default/a", "default/c"}
    latest = informer.get("default/a")
    assert latest is not None and latest["metadata"]["labels"] == {"v": "2"}
    assert informer.get("default/b") is None
    assert rec.cache_behind == []  # every handler call saw the cache already updated
    assert [v for v, _ in api.calls] == ["create", "create", "list", "watch", "create", "replace", "delete"]


def test_synced_after_an_empty_list(start: Start) -> None:
    informer, rec = start()
    assert informer.items() == [] and rec.events == []


def test_only_its_namespace_and_selector(api: FakeApiClient, start: Start) -> None:
    api.create(DEFAULT, pod("web", app="web"))
    api.create(DEFAULT, pod("api", app="api"))
    api.create(paths.path(PODS, "other"), pod("far", app="web"))
    informer, rec = start(None, label="app=web")  # every namespace, one label
    assert sorted(object_key(o) for o in informer.items()) == ["default/web", "other/far"]
    assert api.wait_watching(1, DEADLINE)
    api.create(DEFAULT, pod("web2", app="web"))
    api.create(DEFAULT, pod("api2", app="api"))
    api.create(paths.path(NODES), {"metadata": {"name": "w1"}})
    assert rec.wait_for(("ADDED", "web2"))[-1] == ("ADDED", "web2")
    assert informer.get("default/api2") is None


def test_a_watch_that_ends_resumes_from_the_last_version_without_listing(
        api: FakeApiClient, start: Start) -> None:
    _, rec = start()
    assert api.wait_watching(1, DEADLINE)
    api.create(DEFAULT, pod("a"))
    rec.wait_for(("ADDED", "a"))
    api.end_watches()  # the server's timeoutSeconds closed the stream
    assert api.wait(lambda: api.count("watch") == 2 and api.watching() == 1, DEADLINE)
    api.create(DEFAULT, pod("b"))
    assert rec.wait_for(("ADDED", "b")) == [("ADDED", "a"), ("ADDED", "b")]  # nothing delivered twice
    assert api.count("list") == 1


def test_after_an_error_it_lists_again_and_reports_the_differences(
        api: FakeApiClient, start: Start) -> None:
    api.create(DEFAULT, pod("gone"))
    api.create(DEFAULT, pod("changed"))
    api.create(DEFAULT, pod("same"))
    informer, rec = start()
    assert api.wait_watching(1, DEADLINE)
    # The connection breaks; while no watch can be had, the objects change.
    api.break_watches(Unreachable("connection reset by peer"))
    api.delete(pod_path("gone"))
    api.replace(pod_path("changed"), pod("changed", v="2"))
    api.create(DEFAULT, pod("new"))
    # Only a new list can tell the informer (every watch fails): its differences become events.
    events = rec.wait_for(("DELETED", "gone"), ("MODIFIED", "changed"), ("ADDED", "new"))
    assert api.count("list") >= 2
    assert ("MODIFIED", "same") not in events  # an unchanged resourceVersion is not news
    assert sorted(object_key(o) for o in informer.items()) == ["default/changed", "default/new",
                                                               "default/same"]
    changed = informer.get("default/changed")
    assert changed is not None and changed["metadata"]["labels"] == {"v": "2"}
    api.heal_watches()
    assert api.wait_watching(1, DEADLINE)
    api.create(DEFAULT, pod("later"))
    rec.wait_for(("ADDED", "later"))  # and watching again
    assert rec.cache_behind == []


def test_a_compacted_version_410_makes_it_list_again(
        api: FakeApiClient, start: Start) -> None:
    api.create(DEFAULT, pod("a"))
    informer, rec = start()
    assert api.wait_watching(1, DEADLINE)
    api.create(paths.path(NODES), {"metadata": {"name": "w1"}})  # history the pod watch never saw...
    api.compact()  # ...is compacted: the informer's last version is now too old
    api.end_watches()
    assert api.wait(lambda: api.count("list") == 2, DEADLINE)  # the resumed watch got 410 Gone
    assert api.wait_watching(1, DEADLINE)
    api.delete(pod_path("a"))
    assert rec.wait_for(("DELETED", "a")) == [("ADDED", "a"), ("DELETED", "a")]
    assert informer.items() == []


def test_a_failing_handler_does_not_stop_the_informer(
        api: FakeApiClient, start: Start) -> None:
    informer, rec = start()
    calls: list[str] = []

    def broken(kind: str, obj: Obj) -> None:
        calls.append(obj["metadata"]["name"])
        raise RuntimeError("handler bug")

    informer.handlers.insert(0, broken)
    assert api.wait_watching(1, DEADLINE)
    api.create(DEFAULT, pod("a"))
    api.create(DEFAULT, pod("b"))
    rec.wait_for(("ADDED", "a"), ("ADDED", "b"))  # the next handler still ran, and the next event came
    assert calls == ["a", "b"]
