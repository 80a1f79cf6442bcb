"""One store member: pysyncobj Raft node + the state machine + durable group commit.

Threads: pysyncobj runs on one tick thread owned by this class (autoTick off, so the
member decides what happens around each tick).  Other threads may call `propose`
(thread-safe: pysyncobj's command queue) and `read` (takes the state lock, which `apply`
also takes).  Callbacks passed to `propose` run on the tick thread and must not block.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, SyncObjConsumer, replicated

from raftstore import errors as e
from raftstore import raftguard
from raftstore.config import MemberConfig
from raftstore.durability import DurableJournal, durable_journals
from raftstore.state import Cmd, KVState, Result

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    """In a forked snapshot child: get SIGKILL when the member dies (PR_SET_PDEATHSIG).

    Otherwise a member killed mid-snapshot leaves a child that later renames a dump over
    the newer one and keeps the member's sockets open.
    """
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


os.register_at_fork(after_in_child=_die_with_parent)
T = TypeVar("T")

# Failures after which the command is certainly not in the log: safe to propose again.
NOT_APPLIED = {FAIL_REASON.QUEUE_FULL, FAIL_REASON.MISSING_LEADER, FAIL_REASON.NOT_LEADER,
               FAIL_REASON.REQUEST_DENIED}

ProposeCallback = Callable[[Result | None, e.StoreError | None], None]


class StateConsumer(SyncObjConsumer):  # type: ignore[misc]
    """The replicated object: one entry point, `apply`, that never raises."""

    def __init__(self, on_applied: Callable[[], None]) -> None:
        # Attributes set before SyncObjConsumer.__init__ are not part of snapshots.
        self.lock = threading.RLock()
        self.on_applied = on_applied
        super().__init__()
        # The history bound changes what replicated commands do (compaction errors), so
        # it is a constant of the cluster, never a per-member setting.
        self.state = KVState()

    @replicated  # type: ignore[untyped-decorator]
    def apply(self, cmd: Cmd) -> Result:
        with self.lock:
            result = self.state.apply(cmd)
        try:
            self.on_applied()
        except Exception:  # a raise here would make pysyncobj re-apply the entry
            log.exception("watch wake-up failed")
        return result

    def _serialize(self) -> dict[str, Any]:
        # Runs on the tick thread; pysyncobj pickles the result in a forked child, so the
        # live object is a consistent copy-on-write snapshot.
        return {"state": self.state}

    def _deserialize(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.state = data["state"]
        self.on_applied()


class Member(SyncObj):  # type: ignore[misc]
    """A Raft member serving the KV state machine.  Create, then `start()`."""

    def __init__(self, cfg: MemberConfig, on_applied: Callable[[], None] = lambda: None) -> None:
        self.cfg = cfg
        os.makedirs(cfg.data_dir, exist_ok=True)
        self.consumer = StateConsumer(on_applied)
        conf = SyncObjConf(
            autoTick=False,
            journalFile=cfg.journal_file,
            fullDumpFile=cfg.dump_file,
            password=cfg.secret,
            bindAddress=cfg.peer_addr,
            dynamicMembershipChange=True,
            # Latency: send entries at once instead of every appendEntriesPeriod.
            appendEntriesUseBatch=False,
            appendEntriesPeriod=cfg.heartbeat,
            raftMinTimeout=cfg.election_min,
            raftMaxTimeout=cfg.election_max,
            # A leader cut off from the majority steps down quickly so clients fail over.
            leaderFallbackTimeout=max(1.0, 3 * cfg.election_max),
            connectionRetryTime=0.5,
            connectionTimeout=max(1.0, 2 * cfg.election_max),
            logCompactionMinEntries=cfg.snapshot_entries,
            logCompactionMinTime=300,
            commandsQueueSize=100_000,
            # Without a leader, fail commands at once ("certainly not applied") instead of
            # queueing them: a queued command would be applied whenever a leader appears,
            # long after its client gave up and retried elsewhere.
            commandsWaitLeader=False,
            onStateChanged=self._on_state_changed,
        )
        with durable_journals(cfg.dump_file):
            super().__init__(cfg.peer_addr, cfg.other_peers, conf, consumers=[self.consumer])
        self.journal: DurableJournal = self._SyncObj__raftLog
        self._held: list[tuple[Any, dict[str, Any]]] = []
        self._hold_lock = threading.Lock()
        transport = self._SyncObj__transport
        self._send = transport.send
        transport.send = self._send_or_hold
        self._deliver = self._SyncObj__onMessageReceived
        self._ack_cap: int | None = None
        self._reset_to: int | None = None
        transport.setOnMessageReceivedCallback(self._on_message)
        self._stopping = threading.Event()
        self._last_ping = 0.0
        self._early_for: Any = None
        self._ping_every = conf.connectionTimeout / 4
        self._thread = threading.Thread(target=self._run, name=f"raft-{cfg.name}", daemon=True)
        # pysyncobj snapshots every attribute of the SyncObj created after its __init__;
        # ours are runtime plumbing (locks, threads), the replicated state is the consumer.
        self._SyncObj__properies.update(self.__dict__)

    def _on_state_changed(self, old: int, new: int) -> None:
        names = {0: "follower", 1: "candidate", 2: "leader"}
        links = {n.id: self.isNodeConnected(n) for n in self.otherNodes}
        log.info("%s: %s -> %s (term %s) links %s", self.cfg.name, names.get(old, old), names.get(new, new),
                 self.raftCurrentTerm, links)

    # ---- durability ---------------------------------------------------------------
    def _on_message(self, node: Any, message: dict[str, Any]) -> None:
        # Raft's rules pysyncobj lacks (raftguard.py): a leader ignores replies of another
        # term and never moves a follower's next index below matchIndex + 1; a follower
        # deletes log entries only from the first conflict, and acknowledges only what
        # the request covered.
        kind = message.get("type")
        if kind == raftguard.REPLY and self._isLeader():
            match = self._SyncObj__raftMatchIndex.get(node, 0)
            admitted = raftguard.admit(message, self.raftCurrentTerm, match)
            if admitted is None:
                return
            message = admitted
        elif kind == raftguard.APPEND and message.get("term", -1) >= self.raftCurrentTerm:
            log = self.journal
            last = log[-1][1]
            # Committed entries, and the first one held (its snapshot covers it), are in
            # every later leader's log (Leader Completeness).
            known_good = min(last, max(int(self.raftCommitIndex), log[0][1]))
            plan = raftguard.plan_append(message, last, self._term_at, known_good)
            # pysyncobj replies while we deliver, on this thread.
            self._ack_cap, self._reset_to = plan.ack_cap, plan.reset_to
            try:
                self._deliver(node, plan.message)
            finally:
                self._ack_cap = self._reset_to = None
            return
        self._deliver(node, message)

    def _term_at(self, index: int) -> int | None:
        """The term of this member's log entry at `index`, None if it holds none there."""
        log = self.journal
        pos = index - log[0][1]
        return int(log[pos][2]) if 0 <= pos < len(log) else None

    def _send_or_hold(self, node: Any, message: dict[str, Any]) -> Any:
        # A follower's acknowledgement must not leave before the entries it acknowledges
        # are on disk; hold it until the next tick's group fsync.  It carries the term of
        # the request it answers (raftguard.py).
        if message.get("type") == "next_node_idx":
            message = raftguard.stamp(message, self.raftCurrentTerm)
            message = raftguard.hint_reset(raftguard.cap_ack(message, self._ack_cap), self._reset_to)
            with self._hold_lock:
                self._held.append((node, message))
            return True
        return self._send(node, message)

    def _checkCommandsToApply(self) -> None:
        # With batching off pysyncobj sends one append_entries per command; with it on it
        # waits up to appendEntriesPeriod.  Take every queued command with batching on,
        # then send them all at once: one message per follower per tick, no added delay.
        conf = self._getConf()
        before = len(self.journal)
        conf.appendEntriesUseBatch = True
        try:
            super()._checkCommandsToApply()
        finally:
            conf.appendEntriesUseBatch = False
        if len(self.journal) != before and self._isLeader():
            self._SyncObj__sendAppendEntries()
            # Sync our own copy while the followers write theirs (the leader counts
            # itself towards the commit index only at the next tick, after this).
            self._sync_or_die()
            # Make this tick's poll return at once: the next tick may commit, and with no
            # follower acks to wake the poll (a one-member cluster) it would otherwise
            # wait for the poll timeout (measured: 26 ms per write).
            self._SyncObj__pipeNotifier.notify()

    # ---- liveness -----------------------------------------------------------------
    def _keep_peer_links_alive(self) -> None:
        # pysyncobj drops a connection that has read nothing for connectionTimeout, and
        # checks that when it *sends*.  Links between followers carry nothing until an
        # election, so without this the first vote request of an election finds its
        # link expired, is dropped, and the election needs another round (measured:
        # failover 0.6-0.9 s instead of ~0.3 s).  pysyncobj ignores unknown types.
        now = time.monotonic()
        if now - self._last_ping >= self._ping_every:
            self._last_ping = now
            for node in self.otherNodes:
                self._send(node, {"type": "skiff_ping"})

    def _campaign_early_if_leader_link_lost(self) -> None:
        # A follower whose TCP link to the leader has closed (the leader's process died
        # or its host is gone: the kernel resets the connection at once) need not wait
        # a whole election timeout of silence.  It campaigns after a short random delay;
        # the randomness keeps two followers from splitting the vote.
        leader = self._getLeader()
        if leader is None or leader == self.selfNode or self.isNodeConnected(leader):
            self._early_for = None
            return
        if self._early_for == leader:
            return
        self._early_for = leader
        soon = time.monotonic() + random.uniform(0.0, self.cfg.election_min / 2)
        deadline: float = getattr(self, "_SyncObj__raftElectionDeadline")  # noqa: B009
        if soon < deadline:
            self._SyncObj__raftElectionDeadline = soon

    def _onTick(self, timeToWait: float = 0.0) -> None:
        self._campaign_early_if_leader_link_lost()
        self._keep_peer_links_alive()
        self._sync_or_die()
        with self._hold_lock:
            held, self._held = self._held, []
        for node, message in held:
            self._send(node, message)
        super()._onTick(timeToWait)

    def _sync_or_die(self) -> None:
        # After a failed fsync Linux may mark the pages clean, so a retry would
        # "succeed" without the data on disk: stop instead of acknowledging anything.
        try:
            self.journal.sync()
        except OSError:
            log.critical("journal fsync failed; stopping so nothing unsynced is acknowledged",
                         exc_info=True)
            os._exit(70)

    # ---- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.doTick(self.cfg.heartbeat / 2)
            except Exception:  # keep ticking: one bad tick must not stop the member
                log.exception("raft tick failed")
                self._stopping.wait(0.05)
        self.journal.sync()
        self._stop_snapshot_child()
        self._doDestroy()

    def _stop_snapshot_child(self) -> None:
        # A snapshot child left running would rename its dump into place after we are
        # gone and hold our sockets; stop and reap it with us.
        pid = getattr(self._SyncObj__serializer, "_Serializer__pid", 0)
        if pid and pid > 0:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # ---- commands and reads -------------------------------------------------------
    def propose(self, cmd: Cmd, callback: ProposeCallback) -> None:
        """Replicate `cmd`; `callback(result, error)` runs once on the tick thread.

        error is `Unavailable` when the command is certainly not applied, `UnknownOutcome`
        when it may have been (retry with the same request id).
        """

        def done(result: Any, reason: int) -> None:
            if reason == FAIL_REASON.SUCCESS:
                callback(result, None)
            elif reason in NOT_APPLIED:
                callback(None, e.Unavailable(e.MSG_NO_LEADER))
            else:
                callback(None, e.UnknownOutcome(e.MSG_UNKNOWN_OUTCOME))

        try:
            self.consumer.apply(cmd, callback=done)
        except Exception as err:  # pysyncobj raises on a full queue in some versions
            callback(None, e.Unavailable(f"cannot propose: {err}"))
            return
        # Wake the tick thread now (pysyncobj skips this while our batching toggle is on).
        # The command is queued already: a full pipe only delays the wake-up.
        with contextlib.suppress(OSError):
            self._SyncObj__pipeNotifier.notify()

    def propose_membership(self, action: str, peer: str, callback: ProposeCallback) -> None:
        def done(result: Any, reason: int) -> None:
            if reason == FAIL_REASON.SUCCESS:
                callback({}, None)
            elif reason == FAIL_REASON.REQUEST_DENIED:
                callback(None, e.StoreError(
                    "membership change refused by Raft: another change is still in progress, the node "
                    "is already a member, or the leader was asked to remove itself (stop it first)",
                    e.FAILED_PRECONDITION))
            else:
                callback(None, e.UnknownOutcome(e.MSG_UNKNOWN_OUTCOME))

        if action == "add":
            self.addNodeToCluster(peer, callback=done)
        else:
            self.removeNodeFromCluster(peer, callback=done)

    def read(self, fn: Callable[[KVState], T]) -> T:
        """Run `fn` on the local state under the state lock (a serializable read)."""
        with self.consumer.lock:
            return fn(self.consumer.state)

    # ---- introspection ------------------------------------------------------------
    def raft_status(self) -> dict[str, Any]:
        """A snapshot of Raft progress (read without pysyncobj's lock: values may lag a tick)."""
        leader = self._getLeader()
        return {
            "leader_peer": leader.id if leader is not None else None,
            "is_leader": bool(self._isLeader()),
            "term": int(self.raftCurrentTerm),
            "commit_index": int(self.raftCommitIndex),
            "applied_index": int(self.raftLastApplied),
            "log_len": len(self.journal),
            "first_index": self._first_index(),
            "peers": sorted(n.id for n in list(self.otherNodes)),
            "journal_syncs": self.journal.syncs,
            "journal_sync_seconds": self.journal.sync_seconds,
            "journal_appended": self.journal.appended,
        }

    def _first_index(self) -> int:
        try:  # read without the tick thread's cooperation: the journal may be changing
            return int(self.journal[0][1])
        except IndexError:
            return 0

    @property
    def otherNodes(self) -> set[Any]:
        return set(self._SyncObj__otherNodes)

    def data_size(self) -> int:
        total = 0
        for path in (self.cfg.journal_file, self.cfg.dump_file, self.cfg.journal_file + ".meta"):
            with contextlib.suppress(OSError):
                total += os.path.getsize(path)
        return total
