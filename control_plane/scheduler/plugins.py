"""Filter and score plugins, one concern each, pure functions of (pod, node view).

A filter returns None when the node fits, or the reason it does not (the phrase
Kubernetes uses, so the summary reads like Kubernetes': "0/5 nodes are available:
2 Insufficient memory, 3 node(s) had untolerated taint {...}").  A score returns
0..100 (higher is better); the framework weights and sums them.

Each function is published as a named plugin (`FilterPlugin`, `ScorePlugin`) under
Kubernetes' plugin name, so a rejection can say which plugin said no and a profile
(`profile.py`) can list plugins by name.  Plugins hold no state: one plugin object may
serve any number of profiles and threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from control_plane.api import objects
from control_plane.scheduler.view import NodeView, PodView, Taint

Filter = Callable[[PodView, NodeView], str | None]
Score = Callable[[PodView, NodeView], float]
MAX_SCORE = 100.0


class FilterPlugin(NamedTuple):
    """A named feasibility check: `filter(pod, node)` is None or why `node` cannot run `pod`."""

    name: str
    filter: Filter


class ScorePlugin(NamedTuple):
    """A named ranker: `score(pod, node)` is in 0..MAX_SCORE, higher is better."""

    name: str
    score: Score


# ---- filters ----------------------------------------------------------------------
def node_ready(pod: PodView, node: NodeView) -> str | None:
    return None if node.ready else "node(s) were not ready"


def node_unschedulable(pod: PodView, node: NodeView) -> str | None:
    return "node(s) were unschedulable" if node.unschedulable else None


def tolerates(tolerations: tuple[dict[str, Any], ...], taint: Taint) -> bool:
    return any(objects.tolerates(t, taint.key, taint.value, taint.effect) for t in tolerations)


def taint_toleration(pod: PodView, node: NodeView) -> str | None:
    for taint in node.taints:
        if taint.effect in ("NoSchedule", "NoExecute") and not tolerates(pod.tolerations, taint):
            shown = f"{taint.key}: {taint.value}" if taint.value else taint.key
            return f"node(s) had untolerated taint {{{shown}}}"
    return None


def _term_matches(term: dict[str, Any], labels: dict[str, str]) -> bool:
    for expr in term.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and present and labels.get(key) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def node_selector(pod: PodView, node: NodeView) -> str | None:
    if any(node.labels.get(k) != v for k, v in pod.node_selector.items()):
        return "node(s) didn't match Pod's node affinity/selector"
    if pod.required_terms and not any(_term_matches(t, node.labels) for t in pod.required_terms):
        return "node(s) didn't match Pod's node affinity/selector"
    return None


def resources_fit(pod: PodView, node: NodeView) -> str | None:
    if node.requested_cpu_m + pod.cpu_m > node.alloc_cpu_m:
        return "Insufficient cpu"
    if node.requested_mem + pod.mem > node.alloc_mem:
        return "Insufficient memory"
    return None


# Kubernetes has no NodeReady plugin (a not-ready node carries a taint there); Skiff
# reads the condition directly, as Kubernetes' old CheckNodeCondition predicate did.
NODE_READY = FilterPlugin("NodeReady", node_ready)
NODE_UNSCHEDULABLE = FilterPlugin("NodeUnschedulable", node_unschedulable)
TAINT_TOLERATION = FilterPlugin("TaintToleration", taint_toleration)
NODE_AFFINITY = FilterPlugin("NodeAffinity", node_selector)  # nodeSelector and required affinity
NODE_RESOURCES_FIT = FilterPlugin("NodeResourcesFit", resources_fit)


# ---- scores -----------------------------------------------------------------------
def _fractions_after(pod: PodView, node: NodeView) -> tuple[float, float]:
    cpu = (node.requested_cpu_m + pod.cpu_m) / node.alloc_cpu_m if node.alloc_cpu_m else 1.0
    mem = (node.requested_mem + pod.mem) / node.alloc_mem if node.alloc_mem else 1.0
    return min(cpu, 1.0), min(mem, 1.0)


def least_allocated(pod: PodView, node: NodeView) -> float:
    """Spread: prefer the node with the most room left after placing the pod."""
    cpu, mem = _fractions_after(pod, node)
    return MAX_SCORE * (2 - cpu - mem) / 2


def most_allocated(pod: PodView, node: NodeView) -> float:
    """Bin-pack: prefer the fullest node that still fits."""
    cpu, mem = _fractions_after(pod, node)
    return MAX_SCORE * (cpu + mem) / 2


def balanced_allocation(pod: PodView, node: NodeView) -> float:
    """Prefer nodes whose CPU and memory would be used in the same proportion."""
    cpu, mem = _fractions_after(pod, node)
    return MAX_SCORE * (1 - abs(cpu - mem))


def load_aware(pod: PodView, node: NodeView) -> float:
    """Prefer nodes that are idle *now*, from the live usage their agents report.

    Requests say what pods asked for; this says what the machine is doing.  A node
    that reported nothing scores neutrally (50).
    """
    if node.used_cpu_fraction is None or node.used_mem_fraction is None:
        return MAX_SCORE / 2
    return MAX_SCORE * (2 - node.used_cpu_fraction - node.used_mem_fraction) / 2


# Kubernetes' names from before LeastAllocated/MostAllocated became strategies of
# NodeResourcesFit's score; Skiff keeps them apart so a profile names what it uses.
LEAST_ALLOCATED = ScorePlugin("NodeResourcesLeastAllocated", least_allocated)
MOST_ALLOCATED = ScorePlugin("NodeResourcesMostAllocated", most_allocated)
BALANCED_ALLOCATION = ScorePlugin("NodeResourcesBalancedAllocation", balanced_allocation)
LOAD_AWARE = ScorePlugin("LoadAware", load_aware)  # Skiff's own: Kubernetes cannot score on live load
