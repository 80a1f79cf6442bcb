"""Durable acknowledgement, checked on the wire: no Raft acknowledgement leaves a member
before the entries it acknowledges are fsynced, and a leader never applies (so never
answers a client) past what it has fsynced itself.

Three real members run in this process on loopback; every journal sync and every
outgoing `next_node_idx` (a follower's ack) is recorded and checked.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from control_plane.devtools import procs
from raftstore.config import MemberConfig
from raftstore.errors import StoreError
from raftstore.member import Member
from tests.integration.conftest import next_subnet


class Recorder:
    def __init__(self, member: Member) -> None:
        self.member = member
        self.synced = 0
        self.violations: list[str] = []
        self.acks = 0
        journal = member.journal
        original_sync = journal.sync

        def sync() -> bool:
            did = bool(original_sync())
            self.synced = journal[-1][1]
            return did

        journal.sync = sync
        original_send = member._send

        def send(node: Any, message: dict[str, Any]) -> Any:
            if message.get("type") == "next_node_idx" and message.get("success"):
                self.acks += 1
                if message["next_node_idx"] - 1 > self.synced:
                    self.violations.append(f"{member.cfg.name} acked {message['next_node_idx'] - 1} "
                                           f"with only {self.synced} synced")
            return original_send(node, message)

        member._send = send

    def on_applied(self) -> None:
        if self.member._isLeader() and self.member.raftLastApplied > self.synced:
            self.violations.append(f"leader {self.member.cfg.name} applied "
                                   f"{self.member.raftLastApplied} with only {self.synced} synced")


def test_no_ack_and_no_leader_apply_before_fsync(tmp_path: Path) -> None:
    subnet = next_subnet()
    cluster = {f"d{i}": f"{subnet}.{i}:2380" for i in (1, 2, 3)}
    members: list[Member] = []
    recorders: list[Recorder] = []
    try:
        for name, peer in cluster.items():
            cfg = MemberConfig(name=name, data_dir=tmp_path / name, client_addr=peer.replace("2380", "2379"),
                               peer_addr=peer, initial_cluster=cluster, secret="test-secret")
            holder: list[Recorder] = []
            member = Member(cfg, on_applied=lambda h=holder: h[0].on_applied() if h else None)
            holder.append(Recorder(member))
            members.append(member)
            recorders.append(holder[0])
        for m in members:
            m.start()
        done = threading.Semaphore(0)
        failures: list[StoreError] = []

        def callback(result: Any, err: StoreError | None) -> None:
            if err is not None:
                failures.append(err)
            done.release()

        procs.wait_for(lambda: any(m._isLeader() for m in members), 20, what="a leader")
        total = 0
        for round_ in range(20):
            for i in range(50):  # bursts through every member: batches and forwarding
                members[i % 3].propose({"op": "put", "key": f"k{round_}-{i}".encode(), "value": b"v",
                                        "rid": f"r{round_}-{i}"}, callback)
                total += 1
            for _ in range(50):
                assert done.acquire(timeout=20), "a proposal got no answer"
        assert not failures, failures[:3]
        assert sum(r.acks for r in recorders) > 0
        violations = [v for r in recorders for v in r.violations]
        assert not violations, violations[:5]
        revisions = {m.read(lambda s: s.kv.revision) for m in members if m._isLeader()}
        assert revisions == {1 + total}
    finally:
        for m in members:
            m.stop()
