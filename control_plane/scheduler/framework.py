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


def schedule(pod: PodView, nodes: list[NodeView], weights: dict[str, float] | None = None) -> Decision:
    weights = weights or DEFAULT_WEIGHTS
    decision = Decision(None)
    for node in nodes:
        reason = next((why for _, check in FILTERS if (why := check(pod, node)) is not None), None)
        if reason is not None:
            decision.rejected[node.name] = reason
            continue
        decision.scores[node.name] = sum(w * SCORES[name](pod, node) for name, w in weights.items())
    if decision.scores:
        decision.node = min(decision.scores, key=lambda n: (-decision.scores[n], n))
    return decision
