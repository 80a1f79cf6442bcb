"""Leader election with a coordination.k8s.io/v1 Lease, as client-go does it.

Contract:
- At most one candidate believes it leads at a time, provided clocks tick at the same
  rate: a candidate takes an existing lease only after it has watched the record stay
  unchanged for `lease_duration` on its *own* clock (it never compares its clock with
  the holder's timestamps), and a leader that could not renew within `renew_deadline`
  (< lease_duration) stops leading.  Every write is a compare-and-set on the Lease's
  resourceVersion, so two candidates can never both win one round.
- `step()` is one round (testable with a fake clock); `run()` repeats it every
  `retry_period` and calls `on_change(leading)` when leadership is won or lost.
- `release()` hands the lease over at shutdown (duration 1 s), so a successor takes
  over at once instead of waiting out the lease.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from control_plane.api import defaults, paths
from control_plane.client.clock import Clock, SystemClock, micro_rfc3339
from control_plane.client.errors import ApiClientError, StatusError, is_not_found
from control_plane.client.interface import Api

log = logging.getLogger(__name__)
LEASES = paths.resource("leases")


@dataclass(frozen=True)
class ElectionConfig:
    """Kubernetes' defaults: 15 s lease, 10 s renew deadline, 2 s retry period."""

    lease_duration: float = defaults.LEASE_DURATION
    renew_deadline: float = defaults.RENEW_DEADLINE
    retry_period: float = defaults.RETRY_PERIOD
    namespace: str = "kube-system"

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("leader election needs 0 < retry period < renew deadline < lease duration")


class LeaderElector:
    def __init__(self, client: Api, lock_name: str, identity: str,
                 config: ElectionConfig | None = None, clock: Clock | None = None) -> None:
        self.client, self.identity = client, identity
        self.config = config or ElectionConfig()
        self.clock = clock or SystemClock()
        self.path = paths.path(LEASES, self.config.namespace, lock_name)
        self.lock_name = lock_name
        self._leading = False
        self._last_renew = 0.0  # our clock, when we last renewed successfully
        self._observed_rv: str | None = None
        self._observed_at = 0.0  # our clock, when the record last changed
        self._stop = threading.Event()

    @property
    def leading(self) -> bool:
        return self._leading

    def step(self) -> bool:
        """One round: acquire or renew.  Returns whether this candidate now leads."""
        now = self.clock.monotonic()
        try:
            won = self._try_acquire_or_renew(now)
        except ApiClientError as err:
            log.info("leader election %s: %s", self.lock_name, err.message)
            won = False
        if won:
            self._last_renew = now
            self._leading = True
        elif self._leading and now - self._last_renew >= self.config.renew_deadline:
            log.warning("%s: could not renew lease %s within %.1fs; stepping down",
                        self.identity, self.lock_name, self.config.renew_deadline)
            self._leading = False
        return self._leading

    def run(self, on_change: Callable[[bool], None]) -> None:
        """Run rounds until `stop()`; call `on_change` on every change of leadership."""
        was = False
        while not self._stop.is_set():
            now = self.step()
            if now != was:
                log.info("%s %s leadership of %s", self.identity, "acquired" if now else "lost",
                         self.lock_name)
                on_change(now)
                was = now
            self._stop.wait(self.config.retry_period)
        if was:
            self.release()
            on_change(False)

    def stop(self) -> None:
        self._stop.set()

    def release(self) -> None:
        """Give the lease up if we hold it (best effort, at shutdown)."""
        try:
            lease = self.client.get(self.path, timeout=3)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") == self.identity:
                spec["leaseDurationSeconds"] = 1
                spec["holderIdentity"] = ""
                self.client.replace(self.path, lease)
        except ApiClientError:
            pass
        self._leading = False

    # ---- one round ------------------------------------------------------------------
    def _try_acquire_or_renew(self, now: float) -> bool:
        stamp = micro_rfc3339(self.clock.time())
        try:
            lease = self.client.get(self.path, timeout=self.config.retry_period * 2)
        except StatusError as err:
            if not is_not_found(err):
                raise
            return self._create(stamp)
        spec: dict[str, Any] = lease.setdefault("spec", {})
        rv = lease["metadata"].get("resourceVersion")
        if rv != self._observed_rv:
            self._observed_rv, self._observed_at = rv, now
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or self.config.lease_duration)
        if holder and holder != self.identity and now - self._observed_at < duration:
            self._leading = False  # someone else holds a lease that is still fresh to our eyes
            return False
        if holder != self.identity:
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
            spec["acquireTime"] = stamp
        spec.update({"holderIdentity": self.identity, "renewTime": stamp,
                     "leaseDurationSeconds": round(self.config.lease_duration)})
        try:
            updated = self.client.replace(self.path, lease)  # CAS on resourceVersion
        except StatusError as err:
            if err.code == 409:
                return False
            raise
        self._observed_rv, self._observed_at = updated["metadata"].get("resourceVersion"), now
        return True

    def _create(self, stamp: str) -> bool:
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.lock_name, "namespace": self.config.namespace},
                "spec": {"holderIdentity": self.identity, "acquireTime": stamp, "renewTime": stamp,
                         "leaseDurationSeconds": round(self.config.lease_duration),
                         "leaseTransitions": 0}}
        try:
            self.client.create(paths.path(LEASES, self.config.namespace), body)
        except StatusError as err:
            if err.code == 409:
                return False
            raise
        return True
