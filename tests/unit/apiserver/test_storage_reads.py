"""The API server's object store: a local (serializable) read that finds nothing asks the
leader before answering 404, because the local member may lag behind a fresh create."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from control_plane.api.resources import RESOURCES
from control_plane.apiserver.errors import ApiError
from control_plane.apiserver.storage import ObjectStore
from raftstore.client import RangeResponse, StoreClient
from raftstore.mvcc import KeyValue

PODS = next(r for r in RESOURCES if r.plural == "pods")
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"}}


class LaggingMember:
    """A store client whose local member has not applied the create yet."""

    def __init__(self, leader_has_it: bool) -> None:
        self.leader_has_it = leader_has_it
        self.reads: list[bool] = []

    def get(self, key: bytes, serializable: bool = False, **_: Any) -> RangeResponse:
        self.reads.append(serializable)
        if serializable or not self.leader_has_it:
            return RangeResponse([], 0, False, 7)
        return RangeResponse([KeyValue(key, json.dumps(POD).encode(), 7, 7, 1)], 1, False, 7)


def test_a_stale_local_miss_is_read_again_from_the_leader() -> None:
    client = LaggingMember(leader_has_it=True)
    store = ObjectStore(cast(StoreClient, client))
    assert store.get(PODS, "default", "web", serializable=True)["metadata"]["name"] == "web"
    assert client.reads == [True, False]


def test_a_real_miss_is_404_after_asking_the_leader() -> None:
    client = LaggingMember(leader_has_it=False)
    with pytest.raises(ApiError) as err:
        ObjectStore(cast(StoreClient, client)).get(PODS, "default", "web", serializable=True)
    assert err.value.code == 404 and client.reads == [True, False]


def test_a_linearizable_read_is_made_once() -> None:
    client = LaggingMember(leader_has_it=False)
    with pytest.raises(ApiError):
        ObjectStore(cast(StoreClient, client)).get(PODS, "default", "web")
    assert client.reads == [False]
