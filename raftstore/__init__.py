"""Skiff's store: a revisioned, linearizable key-value store on Raft (pysyncobj).

It stands in for etcd: same data model (revisions, txn, leases, watch) and the same
JSON gateway paths, so `raftstore.client` drives both this store and a real etcd.
"""
