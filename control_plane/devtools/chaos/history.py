"""The recorded history of a chaos run: one `Op` per client operation.

Contract:
- Times are `time.monotonic()` seconds relative to the run's start; `invoke` is taken
  before the request is sent, `complete` after the answer (or the failure) is known.
- `outcome` is `ok` (it happened, `result` is what it returned), `fail` (it certainly did
  not happen: refused before any byte was sent, a 409 precondition failure, a
  non-retryable error) or `unknown` (sent, answer lost: it may or may not have happened,
  at any time after `invoke`).
- Values written are unique per run (`client-seq`), so a value identifies its write.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal["ok", "fail", "unknown"]
Kind = Literal["read", "write", "cas"]


@dataclass
class Op:
    """One operation on one register (`key`).

    `value`: written value (write), new value (cas); `expect`: the value a cas compares
    with (None: the key is absent).  `result`: the value read (read), True/False (cas),
    None (write).  `revision`: the store revision an acknowledged write created.
    """

    id: int
    client: str
    kind: Kind
    key: str
    invoke: float
    value: str | None = None
    expect: str | None = None
    complete: float | None = None
    outcome: Outcome = "unknown"
    result: Any = None
    revision: int = 0
    member: str = ""
    error: str = ""
    layer: str = "store"  # store | api

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "", 0) or k in ("id", "invoke")}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Op:
        return cls(**data)

    def describe(self) -> str:
        """One readable line, e.g. `#12 c3 cas(a->b) = True  [1.20 .. 1.31] ok @127.0.1.2:2379`."""
        if self.kind == "read":
            what = f"read() = {self.result!r}" if self.outcome == "ok" else "read()"
        elif self.kind == "write":
            what = f"write({self.value!r})"
        else:
            what = f"cas({self.expect!r} -> {self.value!r})"
            if self.outcome == "ok":
                what += f" = {self.result}"
        end = "…" if self.complete is None else f"{self.complete:.3f}"
        where = f" @{self.member}" if self.member else ""
        span = f"[{self.invoke:.3f} .. {end}]"
        return f"#{self.id} {self.client} {self.key} {what}  {span} {self.outcome}{where}"


@dataclass
class WatchEvent:
    """One event a watcher received: `value` None for a delete."""

    revision: int
    key: str
    value: str | None
    at: float


@dataclass
class History:
    """Thread-safe recorder of operations, watch events and fault windows."""

    ops: list[Op] = field(default_factory=list)
    watch: list[WatchEvent] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    leaders: list[tuple[float, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def invoke(self, client: str, kind: Kind, key: str, at: float, *, value: str | None = None,
               expect: str | None = None, layer: str = "store") -> Op:
        with self._lock:
            op = Op(len(self.ops), client, kind, key, at, value=value, expect=expect, layer=layer)
            self.ops.append(op)
        return op

    def event(self, ev: WatchEvent) -> None:
        with self._lock:
            self.watch.append(ev)

    def leader(self, at: float, name: str) -> None:
        with self._lock:
            if not self.leaders or self.leaders[-1][1] != name:
                self.leaders.append((at, name))

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"ops": [o.to_json() for o in self.ops],
                    "watch": [asdict(w) for w in self.watch],
                    "faults": list(self.faults),
                    "leaders": [list(x) for x in self.leaders]}
