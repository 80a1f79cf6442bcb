"""The asyncio side of a member: replicated writes with retries, linearizable reads,
watch wake-ups, lease expiry and member registration.

Contract: every coroutine here has a deadline; none blocks the event loop or the Raft
tick thread (results cross threads with `call_soon_threadsafe`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from typing import Any

from raftstore import errors as e
from raftstore.codec import request_bytes
from raftstore.config import MemberConfig, member_id
from raftstore.member import Member
from raftstore.state import Cmd, Result

log = logging.getLogger(__name__)

RETRY_PAUSE = 0.05
LEASE_TICK = 0.2


class MemberService:
    """Owns a Member and exposes async operations to the HTTP layer.

    Create inside the running event loop, then `start()`; `stop()` before exit.
    """

    def __init__(self, cfg: MemberConfig) -> None:
        self.cfg = cfg
        self.loop = asyncio.get_running_loop()
        self._wake_pending = False
        self._applied = asyncio.Event()
        self.member = Member(cfg, on_applied=self._on_applied)
        self.batcher = Batcher(self.loop, self.member)
        self._barrier_inflight: asyncio.Future[None] | None = None
        self._barrier_next: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._promoted_term = -1
        # Request ids for requests that came without one: unique per process lifetime.
        self._rid_prefix = f"{cfg.name}-{uuid.uuid4().hex[:12]}-"
        self._rid_counter = itertools.count()

    # ---- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        self.member.start()
        self._tasks = [self.loop.create_task(self._lease_loop()),
                       self.loop.create_task(self._register_loop())]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self.member.stop)

    # ---- watch wake-ups -----------------------------------------------------------
    def _on_applied(self) -> None:
        # Tick thread: coalesce to at most one pending wake-up of the event loop.
        if not self._wake_pending:
            self._wake_pending = True
            self.loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self._wake_pending = False
        event, self._applied = self._applied, asyncio.Event()
        event.set()

    async def wait_applied(self, timeout: float) -> None:
        """Return after the next applied entry, or after `timeout` seconds."""
        event = self._applied
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    # ---- proposals ----------------------------------------------------------------
    async def _propose_once(self, cmd: Cmd, timeout: float) -> Result:
        try:
            return await asyncio.wait_for(self.batcher.submit(cmd), timeout)
        except TimeoutError:
            raise e.UnknownOutcome(e.MSG_TIMEOUT) from None

    async def write(self, cmd: Cmd, rid: str | None = None, timeout: float | None = None) -> Result:
        """Apply a command exactly once within the deadline, retrying across leader changes.

        The request id makes retries safe: a command applied by an earlier attempt is not
        applied again, its first result is returned.  Raises the command's StoreError, or
        Unavailable/UnknownOutcome when the deadline passes.
        """
        cmd = dict(cmd, rid=rid or cmd.get("rid") or f"{self._rid_prefix}{next(self._rid_counter)}")
        deadline = time.monotonic() + (timeout or self.cfg.request_timeout)
        last: e.StoreError = e.Unavailable(e.MSG_NO_LEADER)
        while (left := deadline - time.monotonic()) > 0:
            try:
                result = await self._propose_once(cmd, min(left, 1.0))
            except (e.Unavailable, e.UnknownOutcome) as err:
                # UnknownOutcome is sticky: once an attempt may have applied, so may this.
                if not isinstance(last, e.UnknownOutcome):
                    last = err
                await asyncio.sleep(min(RETRY_PAUSE, max(0.0, deadline - time.monotonic())))
                continue
            failure = e.error_payload(result)
            if failure is not None:
                raise failure
            return result
        raise last

    # ---- linearizable reads -------------------------------------------------------
    async def barrier(self, timeout: float | None = None) -> None:
        """Return once this member has applied everything committed before the call.

        One replicated no-op serves every read that arrived before it was proposed; reads
        arriving while one is in flight wait for the next (ReadIndex by log, batched).
        """
        if self._barrier_inflight is None:
            self._barrier_inflight = self.loop.create_future()
            self._keep(self.loop.create_task(self._run_barrier(timeout)))
            waiter = self._barrier_inflight
        else:
            if self._barrier_next is None:
                self._barrier_next = self.loop.create_future()
            waiter = self._barrier_next
        await asyncio.shield(waiter)

    def _keep(self, task: asyncio.Task[None]) -> None:
        # The event loop holds tasks weakly: keep a reference until they finish.
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run_barrier(self, timeout: float | None) -> None:
        fut = self._barrier_inflight
        assert fut is not None
        try:
            await self.write({"op": "barrier"}, timeout=timeout)
            fut.set_result(None)
        except e.StoreError as err:
            fut.set_exception(err)
        finally:
            self._barrier_inflight = None
            if self._barrier_next is not None:
                self._barrier_inflight, self._barrier_next = self._barrier_next, None
                self._keep(self.loop.create_task(self._run_barrier(timeout)))

    async def read(self, cmd: Cmd, serializable: bool) -> Result:
        if not serializable:
            await self.barrier()
        result = self.member.read(lambda s: s.read_range(cmd))
        return result

    # ---- background duties --------------------------------------------------------
    async def _lease_loop(self) -> None:
        while True:
            await asyncio.sleep(LEASE_TICK)
            try:
                await self._lease_duty()
            except e.StoreError as err:
                log.debug("lease duty: %s", err.message)
            except Exception:
                log.exception("lease duty failed")

    async def _lease_duty(self) -> None:
        """Leader only: extend leases once per term, then expire the overdue ones."""
        status = self.member.raft_status()
        if not status["is_leader"]:
            return
        if self._promoted_term != status["term"]:
            await self.write({"op": "lease_promote", "now": time.time(),
                              "extend": 2 * self.cfg.election_max})
            self._promoted_term = status["term"]
            return
        now = time.time()
        if self.member.read(lambda s: bool(s.leases.expired(now))):
            await self.write({"op": "lease_expire", "now": now})

    async def _register_loop(self) -> None:
        want = {"peer": self.cfg.peer_addr, "client": self.cfg.client_addr}
        while True:
            if self.member.read(lambda s: s.members.get(self.cfg.name)) == want:
                return
            try:
                await self.write({"op": "member_register", "name": self.cfg.name, **want})
            except e.StoreError:
                await asyncio.sleep(0.2)

    # ---- membership ---------------------------------------------------------------
    async def change_membership(self, action: str, peer: str, timeout: float = 10.0) -> None:
        fut: asyncio.Future[Result] = self.loop.create_future()

        def done(result: Result | None, err: e.StoreError | None) -> None:
            self.loop.call_soon_threadsafe(_settle, fut, result, err)

        self.member.propose_membership(action, peer, done)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise e.UnknownOutcome(e.MSG_TIMEOUT) from None

    def members(self) -> list[dict[str, Any]]:
        """Current Raft members with the names and client addresses they registered."""
        registry = self.member.read(lambda s: dict(s.members))
        by_peer = {v["peer"]: (name, v["client"]) for name, v in registry.items()}
        initial = {addr: name for name, addr in self.cfg.initial_cluster.items()}
        peers = sorted({self.cfg.peer_addr, *self.member.raft_status()["peers"]})
        out = []
        for peer in peers:
            name, client = by_peer.get(peer, (initial.get(peer, peer), ""))
            out.append({"id": member_id(name), "name": name, "peer": peer, "client": client})
        return out

    def leader_id(self) -> int:
        leader = self.member.raft_status()["leader_peer"]
        if leader is None:
            return 0
        for m in self.members():
            if m["peer"] == leader:
                return int(m["id"])
        return 0


class Batcher:
    """Groups the proposals made during one event-loop iteration into one Raft entry.

    Under load this is group commit at the request level: one log entry, one message
    per follower and one apply call for many client writes.  Each command keeps its own
    request id (at-most-once) and its own revision; a batch is applied whole or not at
    all, so an unknown outcome is unknown for each of its commands alike.
    """

    MAX_COMMANDS = 256
    MAX_BYTES = 4 * 1024 * 1024

    def __init__(self, loop: asyncio.AbstractEventLoop, member: Member) -> None:
        self.loop = loop
        self.member = member
        self._pending: list[tuple[Cmd, asyncio.Future[Result]]] = []
        self._scheduled = False

    def submit(self, cmd: Cmd) -> asyncio.Future[Result]:
        fut: asyncio.Future[Result] = self.loop.create_future()
        self._pending.append((cmd, fut))
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        chunk: list[tuple[Cmd, asyncio.Future[Result]]] = []
        size = 0
        for item in pending:
            cost = request_bytes(item[0]) + 64
            if chunk and (len(chunk) >= self.MAX_COMMANDS or size + cost > self.MAX_BYTES):
                self._propose(chunk)
                chunk, size = [], 0
            chunk.append(item)
            size += cost
        if chunk:
            self._propose(chunk)

    def _propose(self, chunk: list[tuple[Cmd, asyncio.Future[Result]]]) -> None:
        futures = [f for _, f in chunk]
        single = len(chunk) == 1
        cmd = chunk[0][0] if single else {"op": "batch", "cmds": [c for c, _ in chunk]}

        def done(result: Result | None, err: e.StoreError | None) -> None:
            self.loop.call_soon_threadsafe(_distribute, futures, single, result, err)

        self.member.propose(cmd, done)


def _distribute(futures: list[asyncio.Future[Result]], single: bool, result: Result | None,
                err: e.StoreError | None) -> None:
    results = [result] * len(futures) if single or result is None else result.get("results", [])
    for fut, res in zip(futures, results, strict=False):
        _settle(fut, res, err)


def _settle(fut: asyncio.Future[Result], result: Result | None, err: e.StoreError | None) -> None:
    if fut.done():
        return
    if err is not None:
        fut.set_exception(err)
    else:
        fut.set_result(result or {})
