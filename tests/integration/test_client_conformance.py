"""One client, two servers: `raftstore.client` against Skiff's store and a real etcd.

Every assertion here holds for both, which is what lets a user point Skiff at etcd.
"""

from __future__ import annotations

import pytest

from control_plane.devtools import procs
from control_plane.devtools.storecluster import LocalCluster
from raftstore.client import prefix_end
from raftstore.errors import CompactedError, NotFound
from raftstore.txnops import compare, op_delete, op_get, op_put
from tests.integration.helpers import WatchRecorder


def test_kv_revisions_ranges_and_deletes(any_store: LocalCluster) -> None:
    with any_store.client() as c:
        r1 = c.put(b"/c/a", b"1").revision
        r2 = c.put(b"/c/b", b"2").revision
        r3 = c.put(b"/c/a", b"3").revision
        assert r1 < r2 < r3
        a = c.get(b"/c/a").kvs[0]
        assert (a.value, a.create_revision, a.mod_revision, a.version) == (b"3", r1, r3, 2)
        res = c.get_prefix(b"/c/")
        assert [kv.key for kv in res.kvs] == [b"/c/a", b"/c/b"] and res.count == 2
        limited = c.get_prefix(b"/c/", limit=1)
        assert limited.more and limited.count == 2 and len(limited.kvs) == 1
        assert c.get_prefix(b"/c/", count_only=True).kvs == []
        assert c.get_prefix(b"/c/", keys_only=True).kvs[0].value == b""
        assert c.get(b"/c/a", revision=r2).kvs[0].value == b"1"
        assert c.get(b"/c/a", b"/c/b").count == 1
        deleted = c.delete(b"/c/", prefix_end(b"/c/"), prev_kv=True)
        assert deleted.deleted == 2 and {kv.key for kv in deleted.prev_kvs} == {b"/c/a", b"/c/b"}
        assert c.get_prefix(b"/c/").count == 0


def test_txn_compare_and_swap(any_store: LocalCluster) -> None:
    with any_store.client() as c:
        rev = c.put(b"/t/x", b"1").revision
        ok = c.txn([compare(b"/t/x", "mod", "=", rev)], [op_put(b"/t/x", b"2"), op_get(b"/t/x")],
                   [op_get(b"/t/x")])
        assert ok.succeeded and ok.revision == rev + 1
        stale = c.txn([compare(b"/t/x", "mod", "=", rev)], [op_put(b"/t/x", b"3")], [op_get(b"/t/x")])
        assert not stale.succeeded and stale.revision == rev + 1
        kvs = stale.responses[0]["response_range"]["kvs"]
        assert kvs[0]["value"] == "Mg=="  # base64 of b"2"
        created = c.txn([compare(b"/t/new", "version", "=", 0)], [op_put(b"/t/new", b"n")])
        assert created.succeeded
        again = c.txn([compare(b"/t/new", "version", "=", 0)], [op_put(b"/t/new", b"m")])
        assert not again.succeeded
        assert c.txn([compare(b"/t/x", "value", "!=", b"2")], [op_delete(b"/t/x")]).succeeded is False
        assert c.txn([compare(b"/t/x", "version", ">", 1)], [op_delete(b"/t/x")]).succeeded
        assert c.get(b"/t/x").count == 0


def test_compaction_and_historical_reads(any_store: LocalCluster) -> None:
    with any_store.client() as c:
        r1 = c.put(b"/h", b"1").revision
        r2 = c.put(b"/h", b"2").revision
        c.put(b"/h", b"3")
        assert c.get(b"/h", revision=r1).kvs[0].value == b"1"
        c.compact(r2)
        with pytest.raises(CompactedError):
            c.get(b"/h", revision=r1)
        assert c.get(b"/h", revision=r2).kvs[0].value == b"2"
        with pytest.raises(CompactedError):
            next(iter(c.watch(b"/h", start_revision=r1)))


def test_leases(any_store: LocalCluster) -> None:
    with any_store.client() as c:
        lease = c.lease_grant(30)
        c.put(b"/l/k", b"v", lease=lease)
        assert c.get(b"/l/k").kvs[0].lease == lease
        assert c.lease_keepalive(lease) == 30
        info = c.lease_timetolive(lease, keys=True)
        assert info["granted_ttl"] == 30 and 0 < info["ttl"] <= 30 and info["keys"] == [b"/l/k"]
        c.lease_revoke(lease)
        assert c.get(b"/l/k").count == 0
        with pytest.raises(NotFound):
            c.lease_revoke(lease)


def test_watch_from_revision_in_order(any_store: LocalCluster) -> None:
    with any_store.client() as c:
        start = c.put(b"/wc/0", b"0").revision
        watch = WatchRecorder(c, b"/wc/", start)
        revs = [c.put(f"/wc/{i}".encode(), b"v").revision for i in range(1, 20)]
        last = c.delete(b"/wc/5").revision
        watch.wait_for_revision(last)
        watch.stop()
        got = [ev.revision for ev in watch.events]
        assert got == [start, *revs, last]
        assert watch.events[-1].type == "DELETE" and watch.events[-1].kv.key == b"/wc/5"


def test_status_and_members(any_store: LocalCluster) -> None:
    with any_store.client() as c:
        members = c.member_list()
        assert len(members) == 3
        statuses = [c.status(m.client) for m in any_store.members]
        leaders = {s["leader"] for s in statuses}
        assert len(leaders) == 1 and leaders.pop() in {m["id"] for m in members}
        procs.wait_for(lambda: len({c.status(m.client)["revision"] for m in any_store.members}) == 1,
                       10, what="members to agree on the revision")
