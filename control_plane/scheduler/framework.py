"""Run a profile's plugins for one pod over the nodes: filter, score, pick, explain.

Deterministic: ties are broken by node name, so the same inputs give the same node.
Pure: `schedule` reads the views and the profile and changes neither.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from control_plane.scheduler.profile import DEFAULT_PROFILE, Profile
from control_plane.scheduler.view import NodeView, PodView


class Rejection(NamedTuple):
    """Which filter plugin said no to a node, and its Kubernetes-worded reason."""

    plugin: str
    reason: str


@dataclass
class Diagnosis:
    """Why the pod cannot go to each rejected node: node name -> the *first* filter of
    the profile that rejected it (Kubernetes' Diagnosis.NodeToStatusMap, Nomad's
    AllocMetric).  Nodes that were never examined (see `schedule`'s `limit`) are absent."""

    nodes: dict[str, Rejection] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def plugins(self) -> set[str]:
        """The plugins that rejected at least one node (Kubernetes' UnschedulablePlugins)."""
        return {r.plugin for r in self.nodes.values()}

    def summary(self, total: int) -> str:
        """Kubernetes' FitError text, e.g. '0/5 nodes are available: 3 Insufficient memory,
        2 node(s) had untolerated taint {...}.': reasons by count, most first, then by text."""
        counts = Counter(r.reason for r in self.nodes.values())
        ordered = sorted(counts.items(), key=lambda x: (-x[1], x[0]))
        parts = ", ".join(f"{n} {reason}" for reason, n in ordered)
        return f"0/{total} nodes are available" + (f": {parts}." if parts else ".")


@dataclass
class Decision:
    node: str | None
    scores: dict[str, float] = field(default_factory=dict)  # feasible node -> weighted sum
    diagnosis: Diagnosis = field(default_factory=Diagnosis)

    @property
    def examined(self) -> int:
        """How many nodes were looked at (feasible plus rejected)."""
        return len(self.scores) + len(self.diagnosis)

    @property
    def message(self) -> str:
        """'assigned to NODE', or the diagnosis' Kubernetes-style summary."""
        if self.node is not None:
            return f"assigned to {self.node}"
        return self.diagnosis.summary(self.examined)


def feasible_nodes_to_find(total: int, percentage: float | None = None) -> int:
    """How many feasible nodes to look for before scoring (Kubernetes'
    percentageOfNodesToScore): all of them up to 100 nodes, then an adaptive share
    (50% minus 1% per 125 nodes, at least 5%), never fewer than 100."""
    if total <= 100:
        return total
    pct = percentage if percentage is not None else max(5.0, 50.0 - total / 125.0)
    return max(100, int(total * pct / 100.0))


def schedule(pod: PodView, nodes: list[NodeView], profile: Profile = DEFAULT_PROFILE,
             limit: int | None = None, start: int = 0) -> Decision:
    """Filter with `profile`'s filters, then score the feasible nodes and pick the best.

    A rejected node is recorded in the decision's diagnosis with the first filter that
    rejected it.  With `limit`, filtering walks the nodes round-robin from `start` and
    stops after `limit` feasible ones (the rest are not examined); a pod that fits
    nowhere is always checked against every node, so its message counts them all.
    """
    # Plain tuples and loops, not generators: this runs for hundreds of nodes per pod.
    scorers = [(s.weight, s.plugin.score) for s in profile.scores if s.weight]
    checks = [(f.name, f.filter) for f in profile.filters]
    decision = Decision(None)
    scores, rejected = decision.scores, decision.diagnosis.nodes
    n = len(nodes)
    order = nodes if not start or not n else nodes[start % n:] + nodes[:start % n]
    wanted = limit if limit is not None else n
    for node in order:
        if len(scores) >= wanted:
            break
        for plugin, check in checks:
            reason = check(pod, node)
            if reason is not None:
                rejected[node.name] = Rejection(plugin, reason)
                break
        else:
            total = 0.0
            for w, score in scorers:
                total += w * score(pod, node)
            scores[node.name] = total
    if scores:
        decision.node = min(scores, key=lambda name: (-scores[name], name))
    return decision
