"""Lease leader election (client-go's leaderelection), one `step()` at a time against
the in-memory API with fake clocks: acquire, renew, take over only after the record
stayed unchanged for the lease duration on the candidate's *own* clock, lose a
compare-and-set race, step down after the renew deadline, hand over on release."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest

from control_plane.api import paths
from control_plane.api.objects import Obj
from control_plane.client.apiclient import ApiClient
from control_plane.client.clock import FakeClock, micro_rfc3339
from control_plane.client.errors import StatusError, Unreachable
from control_plane.client.fake import FakeApiClient
from control_plane.client.leaderelection import ElectionConfig, LeaderElector

LEASES = paths.resource("leases")
LOCK = "kube-scheduler"
LEASE_PATH = paths.path(LEASES, "kube-system", LOCK)
CONFIG = ElectionConfig()  # Kubernetes' 15 s lease, 10 s renew deadline, 2 s retry period


@pytest.fixture
def api() -> Iterator[FakeApiClient]:
    fake = FakeApiClient()
    yield fake
    fake.close()


def elector(api: FakeApiClient, identity: str, clock: FakeClock,
            config: ElectionConfig = CONFIG) -> LeaderElector:
    return LeaderElector(cast(ApiClient, api), LOCK, identity, config, clock)


def lease(api: FakeApiClient) -> Obj:
    return dict(api.get(LEASE_PATH)["spec"])


def test_the_config_must_order_its_periods() -> None:
    for retry, renew, duration in ((2, 10, 10), (10, 2, 15), (0, 10, 15), (3, 2, 15)):
        with pytest.raises(ValueError, match="retry period < renew deadline < lease duration"):
            ElectionConfig(lease_duration=duration, renew_deadline=renew, retry_period=retry)


def test_an_absent_lease_is_created_and_won(api: FakeApiClient) -> None:
    clock = FakeClock(1_800_000_000.0)
    a = elector(api, "a", clock)
    assert not a.leading
    assert a.step() and a.leading
    stamp = micro_rfc3339(clock.time())
    assert lease(api) == {"holderIdentity": "a", "acquireTime": stamp, "renewTime": stamp,
                          "leaseDurationSeconds": 15, "leaseTransitions": 0}
    created = api.get(LEASE_PATH)
    assert (created["kind"], created["metadata"]["namespace"]) == ("Lease", "kube-system")


def test_the_leader_renews(api: FakeApiClient) -> None:
    clock = FakeClock(1_800_000_000.0)
    a = elector(api, "a", clock)
    a.step()
    acquired = lease(api)
    rv = api.get(LEASE_PATH)["metadata"]["resourceVersion"]
    clock.advance(2.0)
    assert a.step()
    renewed = lease(api)
    assert renewed["renewTime"] == micro_rfc3339(clock.time()) != acquired["renewTime"]
    assert renewed["acquireTime"] == acquired["acquireTime"]
    assert renewed["leaseTransitions"] == 0
    assert int(api.get(LEASE_PATH)["metadata"]["resourceVersion"]) > int(rv)


def test_a_second_candidate_waits_until_the_lease_expires_on_its_own_clock(api: FakeApiClient) -> None:
    a = elector(api, "a", FakeClock(1_800_000_000.0))
    b_clock = FakeClock(42.0)  # another machine's monotonic clock: a different origin
    b = elector(api, "b", b_clock)
    assert a.step()
    assert not b.step()  # b has only just seen the record
    b_clock.advance(14.9)
    assert not b.step()  # unchanged for 14.9 s of b's time: still a's
    assert lease(api)["holderIdentity"] == "a"
    b_clock.advance(0.1)  # a never renewed: the record stayed the same for 15 s
    assert b.step()
    taken = lease(api)
    assert taken["holderIdentity"] == "b" and taken["leaseTransitions"] == 1
    assert taken["acquireTime"] == taken["renewTime"] == micro_rfc3339(b_clock.time())
    assert not a.step() and not a.leading  # a sees b's fresh record: at most one leader


def test_the_holders_timestamps_are_never_compared_with_the_candidates_clock(api: FakeApiClient) -> None:
    # The holder's clock says 1970, so by the timestamps its lease expired decades ago;
    # a candidate still waits a full lease duration of its own time (clocks may differ).
    assert elector(api, "a", FakeClock(0.0)).step()
    assert lease(api)["renewTime"].startswith("1970-01-01")
    b_clock = FakeClock(1_800_000_000.0)
    b = elector(api, "b", b_clock)
    assert not b.step()
    b_clock.advance(14.0)
    assert not b.step()


def test_renewals_keep_the_candidate_waiting(api: FakeApiClient) -> None:
    a_clock, b_clock = FakeClock(100.0), FakeClock(7.0)
    a, b = elector(api, "a", a_clock), elector(api, "b", b_clock)
    a.step()
    b.step()
    for _ in range(5):  # b's time runs far ahead, but every renewal changes the record
        b_clock.advance(10.0)
        a_clock.advance(2.0)
        assert a.step()
        assert not b.step()
    b_clock.advance(15.0)  # a stopped renewing
    assert b.step()


def test_the_candidate_waits_the_duration_written_in_the_lease(api: FakeApiClient) -> None:
    # client-go reads leaseDurationSeconds from the observed record, not its own config.
    slow = ElectionConfig(lease_duration=30.0, renew_deadline=20.0, retry_period=2.0)
    assert elector(api, "a", FakeClock(), slow).step()
    assert lease(api)["leaseDurationSeconds"] == 30
    b_clock = FakeClock(0.0)
    b = elector(api, "b", b_clock)
    b.step()
    b_clock.advance(20.0)
    assert not b.step()
    b_clock.advance(10.0)
    assert b.step()


def test_two_candidates_creating_the_lease_at_once_one_gets_409(api: FakeApiClient) -> None:
    a, b = elector(api, "a", FakeClock()), elector(api, "b", FakeClock())
    # b read "not found"; before its create lands, a runs a whole round and creates it.
    api.before_next("create", a.step)
    assert not b.step()  # b's create: 409 AlreadyExists
    assert a.leading and not b.leading
    assert lease(api)["holderIdentity"] == "a"


def test_a_stale_compare_and_set_loses_the_race(api: FakeApiClient) -> None:
    old = elector(api, "old", FakeClock())
    assert old.step()
    a_clock, b_clock = FakeClock(), FakeClock()
    a, b = elector(api, "a", a_clock), elector(api, "b", b_clock)
    assert not a.step() and not b.step()
    a_clock.advance(15.0)
    b_clock.advance(15.0)  # both saw "old" stay silent for a lease duration
    # b has read the record; a takes it before b's replace lands: b's resourceVersion is stale.
    api.before_next("replace", a.step)
    assert not b.step()  # 409 Conflict on b's replace
    assert a.leading and not b.leading
    taken = lease(api)
    assert taken["holderIdentity"] == "a" and taken["leaseTransitions"] == 1  # one transition only


def test_the_leader_steps_down_after_the_renew_deadline(api: FakeApiClient) -> None:
    clock = FakeClock()
    a = elector(api, "a", clock)
    assert a.step()
    api.fail_next("get", Unreachable("no API server answered"), times=100)
    clock.advance(9.9)
    assert a.step()  # renewals fail, but the renew deadline (10 s) has not passed
    clock.advance(0.1)
    assert not a.step() and not a.leading


def test_a_conflict_on_renewal_is_a_failed_round_not_an_error(api: FakeApiClient) -> None:
    clock = FakeClock()
    a = elector(api, "a", clock)
    assert a.step()
    api.before_next("replace", lambda: api.replace(LEASE_PATH, api.get(LEASE_PATH)))  # someone wrote
    clock.advance(2.0)
    assert a.step()  # the round failed (409); a still leads within its renew deadline
    clock.advance(2.0)
    assert a.step()  # and the next round renews
    assert lease(api)["renewTime"] == micro_rfc3339(clock.time())


def test_other_errors_fail_the_round_without_raising(api: FakeApiClient) -> None:
    a = elector(api, "a", FakeClock())
    api.fail_next("get", StatusError(500, "InternalError", "boom"))
    assert not a.step()
    assert a.step()


def test_a_restarted_leader_with_the_same_identity_keeps_the_lease(api: FakeApiClient) -> None:
    assert elector(api, "a", FakeClock()).step()
    assert elector(api, "a", FakeClock(5.0)).step()  # no waiting for its own lease
    assert lease(api)["leaseTransitions"] == 0


def test_release_hands_the_lease_over_at_once(api: FakeApiClient) -> None:
    a, b = elector(api, "a", FakeClock()), elector(api, "b", FakeClock())
    assert a.step()
    a.release()
    assert not a.leading
    assert (lease(api)["holderIdentity"], lease(api)["leaseDurationSeconds"]) == ("", 1)
    assert b.step()  # no holder: b need not wait
    writes = api.count("replace")
    a.release()  # not the holder: the lease is left alone
    assert api.count("replace") == writes
    assert lease(api)["holderIdentity"] == "b"


def test_release_is_best_effort(api: FakeApiClient) -> None:
    a = elector(api, "a", FakeClock())
    a.step()
    api.fail_next("get", Unreachable("gone"))
    a.release()  # does not raise
    assert not a.leading


def test_run_reports_changes_and_releases_on_stop(api: FakeApiClient) -> None:
    a = elector(api, "a", FakeClock())
    changes: list[bool] = []

    def on_change(leading: bool) -> None:
        changes.append(leading)
        if leading:
            a.stop()  # run()'s wait returns at once once stopped: no real time passes

    a.run(on_change)
    assert changes == [True, False]
    assert lease(api)["holderIdentity"] == ""
