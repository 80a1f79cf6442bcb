"""The node's reports through the API (`NodeReporter`) against the in-memory API: register
the Node (labels merged on a re-join, taints left to the admin), post its status through
`nodes/status` keeping condition transition times, renew its Lease."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from control_plane.api import paths
from control_plane.client.apiclient import ApiClient
from control_plane.client.clock import micro_rfc3339, rfc3339
from control_plane.client.errors import StatusError
from control_plane.client.fake import FakeApiClient
from node_agent import heartbeat, nodestatus
from node_agent.config import AgentConfig
from node_agent.heartbeat import NodeReporter
from node_agent.nodestatus import MachineSample
from node_agent.runtime.base import Capabilities

NODES, LEASES = paths.resource("nodes"), paths.resource("leases")
NODE_PATH = paths.path(NODES, None, "w1")
LEASE_PATH = paths.path(LEASES, "kube-node-lease", "w1")
GiB = 1024**3
CAPS = Capabilities("v2", True, True, "cgroup v2 (memory, cpu)")


class Machine:
    """What `nodestatus.sample` returns, set by the test."""

    def __init__(self) -> None:
        self.available = 6 * GiB

    def __call__(self, _: Path) -> MachineSample:
        return MachineSample(4, 10.0, 8 * GiB, self.available, 100 * GiB, 50 * GiB, (0.1, 0.1, 0.1))


@pytest.fixture
def box(monkeypatch: pytest.MonkeyPatch) -> Machine:
    sample = Machine()
    monkeypatch.setattr(nodestatus, "sample", sample)
    return sample


@pytest.fixture
def api() -> Iterator[FakeApiClient]:
    fake = FakeApiClient()
    yield fake
    fake.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


def reporter(api: FakeApiClient, clock: Clock, tmp_path: Path, role: str = "worker") -> NodeReporter:
    cfg = AgentConfig(node_name="w1", address="127.0.1.4", servers=["https://127.0.1.1:6443"],
                      ca_file=tmp_path / "ca.crt", data_dir=tmp_path, credential_file=tmp_path / "cred",
                      role=role, labels={"zone": "a"},
                      taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    return NodeReporter(cast(ApiClient, api), cfg, CAPS, clock)


def test_register_creates_the_node_with_labels_taints_and_status(
        api: FakeApiClient, box: Machine, tmp_path: Path) -> None:
    reporter(api, Clock(), tmp_path, role="control-plane").register()
    node = api.get(NODE_PATH)
    assert node["metadata"]["labels"] == {"kubernetes.io/hostname": "w1", "kubernetes.io/os": "linux",
                                          "zone": "a", "node-role.kubernetes.io/control-plane": ""}
    assert node["spec"]["taints"] == [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    status = node["status"]
    assert status["capacity"]["cpu"] == "4" and status["allocatable"]["pods"] == "110"
    assert status["addresses"] == [{"type": "InternalIP", "address": "127.0.1.4"},
                                   {"type": "Hostname", "address": "w1"}]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    assert status["nodeInfo"]["containerRuntimeVersion"] == "skiff-process://0.1 (cgroup v2 (memory, cpu))"
    assert api.count("replace", NODE_PATH + "/status") == 1  # registered, then the status posted


def test_a_re_join_merges_labels_and_leaves_taints_to_the_admin(
        api: FakeApiClient, box: Machine, tmp_path: Path) -> None:
    # Kubernetes' registerWithTaints applies only when the Node is created.
    reporter(api, Clock(), tmp_path).register()
    node = api.get(NODE_PATH)
    node["metadata"]["labels"]["admin"] = "set"
    node["spec"]["taints"] = []  # the admin removed the taint
    api.replace(NODE_PATH, node)
    reporter(api, Clock(), tmp_path).register()  # the agent restarts: create answers 409
    again = api.get(NODE_PATH)
    assert again["metadata"]["labels"]["admin"] == "set" and again["metadata"]["labels"]["zone"] == "a"
    assert again["spec"]["taints"] == []
    assert again["metadata"]["uid"] == node["metadata"]["uid"]


def test_other_register_errors_are_raised(api: FakeApiClient, box: Machine, tmp_path: Path) -> None:
    api.fail_next("create", StatusError(403, "Forbidden", "nodes is forbidden"))
    with pytest.raises(StatusError) as err:
        reporter(api, Clock(), tmp_path).register()
    assert err.value.code == 403


def test_post_status_keeps_transition_times_of_conditions_that_hold(
        api: FakeApiClient, box: Machine, tmp_path: Path) -> None:
    clock = Clock()
    rep = reporter(api, clock, tmp_path)
    rep.register()
    registered = clock.now
    clock.now += 10
    box.available = GiB // 100  # memory runs out
    rep.post_status()
    conds = {c["type"]: c for c in api.get(NODE_PATH)["status"]["conditions"]}
    assert conds["Ready"]["lastTransitionTime"] == rfc3339(registered)
    assert conds["Ready"]["lastHeartbeatTime"] == rfc3339(clock.now)
    assert (conds["MemoryPressure"]["status"], conds["MemoryPressure"]["lastTransitionTime"]) == (
        "True", rfc3339(clock.now))
    assert api.get(NODE_PATH)["spec"]["taints"]  # the status write touches nothing else


def test_renew_creates_then_updates_the_node_lease(api: FakeApiClient, tmp_path: Path) -> None:
    clock = Clock()
    rep = reporter(api, clock, tmp_path)
    rep.renew()
    lease = api.get(LEASE_PATH)
    assert lease["spec"] == {"holderIdentity": "w1", "leaseDurationSeconds": heartbeat.LEASE_SECONDS,
                             "renewTime": micro_rfc3339(clock.now)}
    clock.now += 10
    rep.renew()
    renewed = api.get(LEASE_PATH)
    assert renewed["spec"]["renewTime"] == micro_rfc3339(clock.now)
    assert renewed["metadata"]["uid"] == lease["metadata"]["uid"]


def test_a_concurrent_lease_write_is_left_for_the_next_round(api: FakeApiClient, tmp_path: Path) -> None:
    clock = Clock()
    rep = reporter(api, clock, tmp_path)
    rep.renew()
    api.before_next("replace", lambda: api.replace(LEASE_PATH, api.get(LEASE_PATH)))
    clock.now += 10
    rep.renew()  # 409 Conflict: not an error
    api.fail_next("replace", StatusError(500, "InternalError", "boom"))
    with pytest.raises(StatusError):
        rep.renew()
