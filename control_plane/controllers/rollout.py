"""What a Deployment needs next, as a pure function of the Deployment and its pods.

Kubernetes keeps a ReplicaSet per template; Skiff owns the pods directly and tells
template versions apart by the `pod-template-hash` label, with the same arithmetic:

- RollingUpdate: never more than `replicas + maxSurge` pods, never fewer than
  `replicas - maxUnavailable` available (ready) ones; maxSurge rounds up,
  maxUnavailable down, and both 0 means maxUnavailable 1 (as in Kubernetes).  New
  pods are created first within the surge; old ones are removed when the
  availability budget allows, not-ready ones first.
- Recreate: all old pods go first; new ones are created once none is left.
- Terminating pods count for nothing (they are being replaced).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from control_plane.api.objects import Obj, is_pod_ready, is_terminal, is_terminating, name_of

HASH_LABEL = "pod-template-hash"


def template_hash(template: Obj) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()[:10]


def resolve(value: Any, replicas: int, round_up: bool, default: str = "25%") -> int:
    """An int-or-percent of `replicas` (maxSurge / maxUnavailable)."""
    if value is None:
        value = default
    if isinstance(value, str) and value.endswith("%"):
        try:
            share = float(value[:-1]) / 100.0 * replicas
        except ValueError:
            share = 0.0
        return math.ceil(share) if round_up else math.floor(share)
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


@dataclass
class Plan:
    create: int = 0
    delete: list[str] = field(default_factory=list)
    status: Obj = field(default_factory=dict)


def plan(deploy: Obj, pods: list[Obj]) -> Plan:
    """The next step towards `deploy`'s desired state, given the pods it owns."""
    spec = deploy.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    current = template_hash(spec.get("template") or {})
    live = [p for p in pods if not is_terminating(p) and not is_terminal(p)]
    new = [p for p in live if _hash_of(p) == current]
    old = [p for p in live if _hash_of(p) != current]
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        step = _recreate(replicas, new, old, any(is_terminating(p) for p in pods))
    else:
        rolling = strategy.get("rollingUpdate") or {}
        surge = resolve(rolling.get("maxSurge"), replicas, round_up=True)
        unavailable = resolve(rolling.get("maxUnavailable"), replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        step = _rolling(replicas, new, old, surge, unavailable)
    step.status = _status(deploy, replicas, live, new, unavailable_allowed=_max_unavailable(spec, replicas))
    return step


def _rolling(replicas: int, new: list[Obj], old: list[Obj], surge: int, unavailable: int) -> Plan:
    step = Plan()
    if not old:  # plain scaling
        if len(new) < replicas:
            step.create = replicas - len(new)
        elif len(new) > replicas:
            step.delete = [name_of(p) for p in _deletion_order(new)[: len(new) - replicas]]
        return step
    total = len(new) + len(old)
    step.create = max(0, min(replicas - len(new), replicas + surge - total))
    min_available = replicas - unavailable
    available = sum(1 for p in new + old if is_pod_ready(p))
    new_unavailable = sum(1 for p in new if not is_pod_ready(p))
    # Old pods that are not ready cost no availability: they go first, as long as the
    # total stays above what must be available plus the new pods still starting.
    budget = max(0, total - min_available - new_unavailable)
    unready_old = [p for p in old if not is_pod_ready(p)]
    doomed = unready_old[:budget]
    ready_budget = max(0, available - min_available)
    doomed += [p for p in old if is_pod_ready(p)][:ready_budget]
    step.delete = [name_of(p) for p in doomed]
    return step


def _recreate(replicas: int, new: list[Obj], old: list[Obj], terminating: bool) -> Plan:
    step = Plan()
    if old:
        step.delete = [name_of(p) for p in old]
    elif not terminating and len(new) < replicas:
        step.create = replicas - len(new)
    elif len(new) > replicas:
        step.delete = [name_of(p) for p in _deletion_order(new)[: len(new) - replicas]]
    return step


def _deletion_order(pods: list[Obj]) -> list[Obj]:
    """Like Kubernetes: unscheduled before scheduled, not ready before ready, newest first."""
    return sorted(pods, key=lambda p: (bool((p.get("spec") or {}).get("nodeName")), is_pod_ready(p),
                                       _negated(p["metadata"].get("creationTimestamp", ""))))


def _negated(stamp: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in stamp)


def _max_unavailable(spec: Obj, replicas: int) -> int:
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    return resolve(rolling.get("maxUnavailable"), replicas, round_up=False)


def _status(deploy: Obj, replicas: int, live: list[Obj], new: list[Obj], unavailable_allowed: int) -> Obj:
    ready = sum(1 for p in live if is_pod_ready(p))
    updated = len(new)
    available_ok = ready >= replicas - unavailable_allowed
    complete = updated == replicas and len(live) == replicas and ready == replicas
    return {
        "observedGeneration": int((deploy.get("metadata") or {}).get("generation") or 1),
        "replicas": len(live), "updatedReplicas": updated, "readyReplicas": ready,
        "availableReplicas": ready, "unavailableReplicas": max(0, replicas - ready),
        "conditions": [
            {"type": "Available", "status": "True" if available_ok else "False",
             "reason": "MinimumReplicasAvailable" if available_ok else "MinimumReplicasUnavailable"},
            {"type": "Progressing", "status": "True",
             "reason": "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated"},
        ],
    }


def _hash_of(pod: Obj) -> str | None:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(HASH_LABEL)
