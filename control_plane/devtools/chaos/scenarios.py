"""Chaos scenarios: which fault each cycle injects, on which host.

A `Fault` is planned at the moment it is injected (the leader is looked up then), and
knows how to heal itself.  `mixed` draws one of the scenarios the target supports each
cycle, from the run's seeded random generator, so a seed replays the same choices.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from control_plane.devtools.chaos.targets import Target
from raftstore.client import StoreClient

SCENARIOS = ["kill-leader", "kill-random-master", "restart-all-masters", "partition-leader",
             "partition-minority", "kill-agent", "pause-leader", "mixed"]
NEEDS_PARTITION = {"partition-leader", "partition-minority"}


@dataclass
class Fault:
    scenario: str
    hosts: list[str]
    inject: Callable[[], None]
    heal: Callable[[], None]


def store_leader(endpoints: dict[str, str], timeout: float = 1.0) -> str | None:
    """The host whose store member every answering member names as leader (None if
    they disagree or nobody answers)."""
    ids: dict[int, str] = {}
    leaders: set[int] = set()
    with StoreClient(list(endpoints.values()), timeout=timeout) as client:
        for host, endpoint in endpoints.items():
            try:
                st = client.status(endpoint)
            except Exception:  # a dead member: the others decide
                continue
            ids[st["member_id"]] = host
            if st["leader"]:
                leaders.add(st["leader"])
    if len(leaders) != 1:
        return None
    return ids.get(leaders.pop())


def _parallel(action: Callable[[str], None], hosts: list[str]) -> Callable[[], None]:
    def run() -> None:
        with ThreadPoolExecutor(max(1, len(hosts))) as pool:
            list(pool.map(action, hosts))
    return run


def plan(scenario: str, target: Target, rng: random.Random) -> Fault:
    """The fault of one cycle; raises LookupError when its victim cannot be found now
    (e.g. no leader yet), so the cycle is skipped and said so."""
    if scenario == "mixed":
        choices = [s for s in SCENARIOS
                   if s != "mixed" and (target.can_partition or s not in NEEDS_PARTITION)]
        if not target.workers():
            choices.remove("kill-agent")
        scenario = rng.choice(choices)
    masters = target.masters()

    def leader() -> str:
        found = store_leader(target.store_endpoints())
        if found is None:
            raise LookupError("the store has no leader now")
        return found

    if scenario == "kill-leader":
        host = leader()
        return Fault(scenario, [host], lambda: target.kill(host), lambda: target.start(host))
    if scenario == "kill-random-master":
        host = rng.choice(masters)
        return Fault(scenario, [host], lambda: target.kill(host), lambda: target.start(host))
    if scenario == "restart-all-masters":
        return Fault(scenario, list(masters), _parallel(target.stop, masters),
                     _parallel(target.start, masters))
    if scenario == "pause-leader":
        host = leader()
        return Fault(scenario, [host], lambda: target.pause(host), lambda: target.resume(host))
    if scenario == "kill-agent":
        host = rng.choice(target.workers() or masters)
        return Fault(scenario, [host], lambda: target.kill_agent(host), lambda: target.start(host))
    if scenario in NEEDS_PARTITION:
        lead = leader()
        host = lead if scenario == "partition-leader" else rng.choice([m for m in masters if m != lead])
        others = [m for m in masters if m != host]
        return Fault(scenario, [host], lambda: target.isolate(host, others), lambda: target.reconnect(host))
    raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
