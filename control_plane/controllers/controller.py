"""The one interface every controller implements, and what the manager hands a
controller when it builds one.

A controller is level-triggered (list + watch, compare desired with observed, act on
the difference, re-queue with back-off, resync periodically) and says *what* to do;
the manager (`manager.py`) owns *how*: one work queue per controller, its worker
threads, the event handlers that fill the queue, the resync ticker, leader gating,
and failure isolation.  So a new controller is one module with a `new(ctx)` factory
plus one line in `manager.REGISTRY`.

The contract between them:
- `watches()` lists the shared informers the controller reads (asked for once, when it
  is built).  The manager hands it no key before every one of them has synced.  A
  watch with `keys` maps each event of that informer to the keys to reconcile; the
  function runs on the informer's thread and must be quick and pure (no API calls).
- `resync()`, if not None: every `period` seconds the manager queues `list_keys()` (every
  object, for a keyed controller; `[ALL]` for one that works on the whole cluster in
  one pass, such as node lifecycle's monitor or the garbage collector's sweep).
- `reconcile(key)` makes one idempotent step for `key`, reading what it needs afresh.
  It returns normally when done (the key's back-off is reset) and raises to ask for a
  retry: the manager logs the error, queues the key again with exponential back-off
  and goes on with other keys; one bad object never stops the loop.  A key is never
  reconciled by two workers at once, so a controller with one `ALL` key is never
  re-entered.  Keys are reconciled only while this manager leads.
- `workers` is how many threads take the controller's keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from control_plane.api import paths
from control_plane.api.objects import Obj
from control_plane.client.clock import Clock
from control_plane.client.events import EventRecorder
from control_plane.client.informer import Informer
from control_plane.client.interface import Api
from control_plane.controllers.config import ManagerConfig

ALL = "*"  # the key of a whole-cluster pass ("*" is never an object's name)
KeysOf = Callable[[str, Obj], Iterable[str]]  # (event type, object) -> keys to reconcile


class Watch(NamedTuple):
    """An informer a controller reads; with `keys`, its events also queue keys."""

    informer: Informer
    keys: KeysOf | None = None


class Resync(NamedTuple):
    """Periodic work: every `period` seconds, queue `list_keys()`."""

    period: float
    list_keys: Callable[[], Iterable[str]]


class Controller(Protocol):
    """See the module docstring for the contract."""

    @property
    def name(self) -> str:
        """Unique in the manager, Kubernetes-style (`deployment-controller`); names logs and threads."""

    @property
    def workers(self) -> int: ...

    def watches(self) -> Sequence[Watch]: ...

    def resync(self) -> Resync | None: ...

    def reconcile(self, key: str) -> None: ...


class SharedInformers:
    """One informer per (resource, namespace), shared by every controller that asks
    (client-go's SharedInformerFactory): each resource is listed and watched once per
    process however many controllers read it.

    Ask for informers while controllers are being built, before the manager starts
    them; not thread-safe.
    """

    def __init__(self, client: Api) -> None:
        self.client = client
        self._informers: dict[tuple[str, str | None], Informer] = {}

    def get(self, plural: str, namespace: str | None = None) -> Informer:
        """The informer of resource `plural` (all namespaces unless `namespace`)."""
        key = (plural, namespace)
        if key not in self._informers:
            self._informers[key] = Informer(self.client, paths.resource(plural), namespace=namespace)
        return self._informers[key]

    def all(self) -> list[Informer]:
        return list(self._informers.values())


@dataclass(frozen=True)
class ControllerContext:
    """What a controller factory may use (Kubernetes' ControllerContext)."""

    client: Api
    informers: SharedInformers
    clock: Clock
    config: ManagerConfig
    events: EventRecorder | None = None


ControllerFactory = Callable[[ControllerContext], Controller]
