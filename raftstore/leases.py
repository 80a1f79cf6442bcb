"""Lease table: TTLs whose expiry is decided by commands, never by a local clock.

Every time value here arrives inside a command, stamped by the member that proposed it,
so applying the same commands gives the same table on every replica.  Only the leader
proposes `expire` (with its clock); after a leader change it first proposes `promote`,
which grants every lease a fresh TTL plus the election time (etcd's Promote), so a lease
never expires because its holder could not reach a leader.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_TTL = 9_000_000_000
FIRST_AUTO_ID = 0x5A1FF00000000001  # deterministic, recognisable auto IDs


@dataclass(slots=True)
class Lease:
    id: int
    ttl: int
    expiry: float
    keys: set[bytes] = field(default_factory=set)


class LeaseTable:
    """Leases by ID.  Not thread-safe; owned by the state machine."""

    def __init__(self) -> None:
        self.leases: dict[int, Lease] = {}
        self._next_id = FIRST_AUTO_ID

    def new_id(self) -> int:
        while self._next_id in self.leases:
            self._next_id += 1
        lease_id = self._next_id
        self._next_id += 1
        return lease_id

    def grant(self, lease_id: int, ttl: int, now: float) -> Lease:
        lease = Lease(lease_id, ttl, now + ttl)
        self.leases[lease_id] = lease
        return lease

    def get(self, lease_id: int) -> Lease | None:
        return self.leases.get(lease_id)

    def remove(self, lease_id: int) -> Lease | None:
        return self.leases.pop(lease_id, None)

    def attach(self, lease_id: int, key: bytes) -> None:
        if lease_id:
            self.leases[lease_id].keys.add(key)

    def detach(self, lease_id: int, key: bytes) -> None:
        lease = self.leases.get(lease_id)
        if lease is not None:
            lease.keys.discard(key)

    def expired(self, now: float) -> list[int]:
        """IDs of leases whose expiry is at or before `now`, in ID order."""
        return sorted(lid for lid, lease in self.leases.items() if lease.expiry <= now)

    def promote(self, now: float, extend: float) -> None:
        for lease in self.leases.values():
            lease.expiry = max(lease.expiry, now + lease.ttl + extend)

    @staticmethod
    def remaining(lease: Lease, now: float) -> int:
        """Seconds left, rounded up as etcd does, never below -1 and never above the
        granted TTL (a new leader extends every lease by an election timeout, and
        clocks of members differ: a client must still never see more than it asked)."""
        left = lease.expiry - now
        return max(-1, min(lease.ttl, int(left) + (1 if left > int(left) else 0)))
