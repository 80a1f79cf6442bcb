"""The clients a chaos run drives while faults are injected, each recording every
operation it makes into the run's `History`.

- `StoreWorker`: reads, writes and compare-and-swaps on a few store keys (registers),
  each worker starting on a different member and failing over like any client.
- `ApiWorker`: read-modify-write of Lease objects through the API servers with a
  resourceVersion precondition (a CAS whose old value is what the worker last read).
- `Watcher`: one watch on the store keys from the run's first revision.

Every value written is unique (`<worker>-<seq>`), so the checks can tell writes apart.
Workers stop when `stop` is set; each operation has its own deadline (`op_timeout`),
so a dead cluster makes operations fail or end unknown instead of hanging.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from typing import Any

from control_plane.client.apiclient import ApiClient
from control_plane.client.errors import OutcomeUnknown, StatusError, Unreachable
from control_plane.devtools.chaos.history import History, Op, WatchEvent
from raftstore import errors as se
from raftstore.client import StoreClient, prefix_end
from raftstore.client import WatchEvent as StoreWatchEvent
from raftstore.txnops import compare, op_put

Clock = Callable[[], float]
LEASES = "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"


@dataclass(frozen=True)
class StoreKeys:
    """The register keys of one run under `prefix` (unique per run)."""

    prefix: str
    count: int

    def key(self, i: int) -> str:
        return f"{self.prefix}k{i}"

    @property
    def all(self) -> list[str]:
        return [self.key(i) for i in range(self.count)]


def classify_store_error(err: se.StoreError, write: bool) -> str:
    """`fail` when the store certainly did not apply the operation, else `unknown`.

    Skiff's client raises Unavailable only when no attempt can have been applied (every
    member refused, or said it has no leader); UnknownOutcome or a deadline after a
    request was sent may have applied.  A read that failed changed nothing."""
    if write and isinstance(err, se.UnknownOutcome | se.DeadlineExceeded):
        return "unknown"
    return "fail"


class _Worker(threading.Thread):
    """A client thread: `one()` operation, a random pause (mean `pause` s), until `stop`;
    `client` (a context manager) is closed at the end."""

    def __init__(self, name: str, client: AbstractContextManager[Any], history: History, clock: Clock,
                 stop: threading.Event, seed: int, pause: float) -> None:
        super().__init__(name=f"chaos-{name}", daemon=True)
        self.client_name, self._client = name, client
        self.history, self.clock, self.stop = history, clock, stop
        self.rng = random.Random(seed)
        self.pause = pause
        self.seq = 0

    def run(self) -> None:
        with self._client:
            while not self.stop.is_set():
                self.one()
                self.stop.wait(self.rng.uniform(0, 2 * self.pause))

    def one(self) -> object:
        raise NotImplementedError

    def next_value(self) -> str:
        """A value no other write of the run has."""
        self.seq += 1
        return f"{self.client_name}-{self.seq}"


class StoreWorker(_Worker):
    """One client of the store, doing random reads, writes and CAS on `keys`."""

    def __init__(self, name: str, endpoints: list[str], keys: StoreKeys, history: History, clock: Clock,
                 stop: threading.Event, seed: int, pause: float = 0.02, op_timeout: float = 1.0) -> None:
        self.client = StoreClient(endpoints, timeout=op_timeout, attempt_timeout=op_timeout)
        super().__init__(name, self.client, history, clock, stop, seed, pause)
        self.keys = keys
        self.last_seen: dict[str, str | None] = {}

    def one(self) -> Op:
        key = self.rng.choice(self.keys.all)
        roll = self.rng.random()
        if roll < 0.4:
            return self._do(self.history.invoke(self.client_name, "read", key, self.clock()), self._read)
        value = self.next_value()
        if roll < 0.7:
            return self._do(self.history.invoke(self.client_name, "write", key, self.clock(), value=value),
                            self._write)
        expect = self.last_seen.get(key)
        op = self.history.invoke(self.client_name, "cas", key, self.clock(), value=value, expect=expect)
        return self._do(op, self._cas)

    def _do(self, op: Op, action: Callable[[Op], None]) -> Op:
        try:
            action(op)
            op.outcome = "ok"
        except se.StoreError as err:  # every failure is recorded; the run goes on
            op.outcome = classify_store_error(err, op.kind != "read")  # type: ignore[assignment]
            op.error = f"{type(err).__name__}: {err}"[:200]
        except Exception as err:  # a bug of this client, not the store's doing: reported
            op.outcome, op.error = "unknown", f"client error: {type(err).__name__}: {err}"[:200]
        op.complete = self.clock()
        op.member = self.client.current_endpoint.removeprefix("http://")
        return op

    def _read(self, op: Op) -> None:
        resp = self.client.get(op.key.encode())
        op.result = resp.kvs[0].value.decode() if resp.kvs else None
        self.last_seen[op.key] = op.result

    def _write(self, op: Op) -> None:
        assert op.value is not None
        op.revision = self.client.put(op.key.encode(), op.value.encode()).revision
        self.last_seen[op.key] = op.value

    def _cas(self, op: Op) -> None:
        assert op.value is not None
        key = op.key.encode()
        cond = (compare(key, "create", "=", 0) if op.expect is None
                else compare(key, "value", "=", op.expect.encode()))
        resp = self.client.txn([cond], [op_put(key, op.value.encode())])
        op.result = resp.succeeded
        if resp.succeeded:
            op.revision = resp.revision
            self.last_seen[op.key] = op.value


class ApiWorker(_Worker):
    """One API client: GET a Lease (a read), then PUT it back with a new holder and the
    resourceVersion it read (a CAS from the holder it read); 409 is a failed CAS."""

    def __init__(self, name: str, api: ApiClient, namespace: str, leases: list[str], history: History,
                 clock: Clock, stop: threading.Event, seed: int, pause: float = 0.05) -> None:
        super().__init__(name, api, history, clock, stop, seed, pause)
        self.api, self.ns, self.leases = api, namespace, leases

    def one(self) -> None:
        name = self.rng.choice(self.leases)
        key = f"lease/{name}"
        path = f"{LEASES.format(ns=self.ns)}/{name}"
        read = self.history.invoke(self.client_name, "read", key, self.clock(), layer="api")
        try:
            obj = self.api.get(path)
            read.result, read.outcome = holder(obj), "ok"
        except Exception as err:
            read.outcome, read.error = "fail", f"{type(err).__name__}: {err}"[:200]
        read.complete = self.clock()
        if read.outcome != "ok":
            return
        value = self.next_value()
        cas = self.history.invoke(self.client_name, "cas", key, self.clock(), value=value,
                                  expect=read.result, layer="api")
        obj["spec"] = {**(obj.get("spec") or {}), "holderIdentity": value}
        try:
            self.api.replace(path, obj)
            cas.outcome, cas.result = "ok", True
        except StatusError as err:
            if err.code == 409:
                cas.outcome, cas.result = "ok", False
            else:  # a 5xx may come after the store applied the write
                cas.outcome = "unknown" if err.code >= 500 else "fail"
            cas.error = f"{err.code} {err.message}"[:200]
        except OutcomeUnknown as err:
            cas.outcome, cas.error = "unknown", err.message[:200]
        except Unreachable as err:  # every attempt was refused before a byte was sent
            cas.outcome, cas.error = "fail", err.message[:200]
        cas.complete = self.clock()
        cas.member = self.api.server


def holder(obj: dict[str, Any]) -> str | None:
    value = (obj.get("spec") or {}).get("holderIdentity")
    return value if isinstance(value, str) else None


class Watcher(threading.Thread):
    """Watches the run's key range from `start_revision`, recording every event."""

    def __init__(self, endpoints: list[str], prefix: str, start_revision: int, history: History,
                 clock: Clock, deadline: float) -> None:
        super().__init__(name="chaos-watch", daemon=True)
        self.client = StoreClient(endpoints, timeout=2.0)
        self.prefix, self.start_revision = prefix.encode(), start_revision
        self.history, self.clock, self.deadline = history, clock, deadline
        self.stop = threading.Event()
        self.last_revision = 0
        self.error = ""

    def run(self) -> None:
        end = prefix_end(self.prefix)
        try:
            with self.client, closing(self.client.watch(self.prefix, end, start_revision=self.start_revision,
                                                        deadline=self.deadline)) as events:
                for ev in events:
                    self.history.event(recorded(ev, self.clock()))
                    self.last_revision = ev.revision
                    if self.stop.is_set():
                        return
        except Exception as err:  # recorded: a watch that died is itself a finding
            self.error = f"{type(err).__name__}: {err}"

    def wait_for(self, revision: int, timeout: float) -> bool:
        """Wait until the watch has delivered `revision` (deadline `timeout` s)."""
        end = time.monotonic() + timeout
        while self.last_revision < revision and time.monotonic() < end and self.is_alive():
            time.sleep(0.05)
        return self.last_revision >= revision


def recorded(ev: StoreWatchEvent, at: float) -> WatchEvent:
    """A store watch event as the history keeps it (value None for a delete)."""
    return WatchEvent(ev.revision, ev.kv.key.decode(), ev.kv.value.decode() if ev.type == "PUT" else None, at)


def read_history(endpoints: list[str], prefix: str, start_revision: int, clock: Clock,
                 timeout: float = 20.0) -> list[WatchEvent]:
    """The store's own history of the run's keys, read after healing: every event from
    `start_revision` up to the newest revision of the range."""
    key = prefix.encode()
    end = prefix_end(key)
    events: list[WatchEvent] = []
    with StoreClient(endpoints, timeout=timeout) as client:
        now = client.get(key, end)
        newest = max((kv.mod_revision for kv in now.kvs), default=0)
        if newest < start_revision:
            return events
        deadline = time.monotonic() + timeout
        with closing(client.watch(key, end, start_revision=start_revision, deadline=deadline)) as stream:
            for ev in stream:
                events.append(recorded(ev, clock()))
                if ev.revision >= newest:
                    break
    if not events or events[-1].revision < newest:
        raise TimeoutError(f"the store's history of {prefix} could not be read up to revision {newest}")
    return events
