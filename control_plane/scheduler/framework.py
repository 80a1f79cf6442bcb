"""Run the plugins for one pod over all nodes: filter, score, pick, explain.

Deterministic: ties are broken by node name, so the same inputs give the same node.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from control_plane.scheduler.plugins import FILTERS, SCORES
from control_plane.scheduler.view import NodeView, PodView

DEFAULT_WEIGHTS = {"LeastAllocated": 1.0, "BalancedAllocation": 1.0, "LoadAware": 1.0}
BIN_PACKING_WEIGHTS = {"MostAllocated": 1.0, "BalancedAllocation": 1.0, "LoadAware": 0.5}


@dataclass
class Decision:
    node: str | None
    scores: dict[str, float] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # node -> why

    @property
    def message(self) -> str:
        """Kubernetes' summary, e.g. '0/5 nodes are available: 2 Insufficient memory, ...'."""
        total = len(self.rejected) + len(self.scores)
        if self.node is not None:
            return f"assigned to {self.node}"
        counts = Counter(self.rejected.values())
        ordered = sorted(counts.items(), key=lambda x: (-x[1], x[0]))
        parts = ", ".join(f"{n} {reason}" for reason, n in ordered)
        return f"0/{total} nodes are available" + (f": {parts}." if parts else ".")


def feasible_nodes_to_find(total: int, percentage: float | None = None) -> int:
    """How many feasible nodes to look for before scoring (Kubernetes'
    percentageOfNodesToScore): all of them up to 100 nodes, then an adaptive share
    (50% minus 1% per 125 nodes, at least 5%), never fewer than 100."""
    if total <= 100:
        return total
    pct = percentage if percentage is not None else max(5.0, 50.0 - total / 125.0)
    return max(100, int(total * pct / 100.0))


def schedule(pod: PodView, nodes: list[NodeView], weights: dict[str, float] | None = None,
             limit: int | None = None, start: int = 0) -> Decision:
    """Filter, then score the feasible nodes and pick the best.

    With `limit`, filtering walks the nodes round-robin from `start` and stops after
    `limit` feasible ones (the rest are not examined); a pod that fits nowhere is
    always checked against every node, so its message counts them all.
    """
    scorers = [(w, SCORES[name]) for name, w in (weights or DEFAULT_WEIGHTS).items() if w]
    checks = [check for _, check in FILTERS]
    decision = Decision(None)
    scores, rejected = decision.scores, decision.rejected
    n = len(nodes)
    order = nodes if not start or not n else nodes[start % n:] + nodes[:start % n]
    wanted = limit if limit is not None else n
    # Plain loops, not generators: this runs for hundreds of nodes per pod.
    for node in order:
        if len(scores) >= wanted:
            break
        for check in checks:
            reason = check(pod, node)
            if reason is not None:
                rejected[node.name] = reason
                break
        else:
            total = 0.0
            for w, score in scorers:
                total += w * score(pod, node)
            scores[node.name] = total
    if scores:
        decision.node = min(scores, key=lambda name: (-scores[name], name))
    return decision
