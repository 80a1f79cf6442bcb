"""A Pod's status from what the runtime says about its containers.  Pure."""

from __future__ import annotations

from dataclasses import dataclass

from control_plane.api.objects import Obj
from control_plane.client.clock import rfc3339
from node_agent.runtime.base import ContainerState


@dataclass
class ContainerView:
    name: str
    image: str
    state: ContainerState | None = None  # None: never started
    waiting: tuple[str, str] | None = None  # (reason, message) while not running
    restart_count: int = 0
    ready: bool = False
    last_terminated: ContainerState | None = None


def phase(policy: str | None, views: list[ContainerView]) -> str:
    """Kubernetes' pod phase for the restart policy (default Always)."""
    if any(v.state is None for v in views):
        return "Pending"
    exited = [v.state for v in views if v.state is not None and v.state.state == "exited"]
    if len(exited) < len(views):
        return "Running"
    all_ok = all(s.exit_code == 0 for s in exited)
    if policy == "Never":
        return "Succeeded" if all_ok else "Failed"
    if policy == "OnFailure":
        return "Succeeded" if all_ok else "Running"
    return "Running"  # Always: it is being restarted


def container_status(v: ContainerView) -> Obj:
    out: Obj = {
        "name": v.name,
        "image": v.image,
        "imageID": "",
        "restartCount": v.restart_count,
        "ready": v.ready,
        "started": bool(v.state and v.state.state == "running"),
    }
    if v.waiting is not None and not (v.state and v.state.state == "running"):
        out["state"] = {"waiting": {"reason": v.waiting[0], "message": v.waiting[1]}}
    elif v.state is None:
        out["state"] = {"waiting": {"reason": "ContainerCreating"}}
    elif v.state.state == "running":
        out["state"] = {"running": {"startedAt": _stamp(v.state.started_at)}}
    else:
        out["state"] = {"terminated": _terminated(v.state)}
    if v.last_terminated is not None:
        out["lastState"] = {"terminated": _terminated(v.last_terminated)}
    else:
        out["lastState"] = {}
    return out


def pod_status(
    pod: Obj, views: list[ContainerView], node_ip: str, start_time: float | None, previous: Obj
) -> Obj:
    """The whole status; conditions keep their lastTransitionTime while unchanged."""
    policy = (pod.get("spec") or {}).get("restartPolicy")
    ready = bool(views) and all(v.ready for v in views)
    pod_phase = phase(policy, views)
    if pod_phase in ("Succeeded", "Failed"):
        ready = False
    wanted = [("PodScheduled", True), ("Initialized", True), ("ContainersReady", ready), ("Ready", ready)]
    before = {c.get("type"): c for c in previous.get("conditions") or []}
    conditions = []
    for kind, ok in wanted:
        status = "True" if ok else "False"
        old = before.get(kind) or {}
        since = old.get("lastTransitionTime") if old.get("status") == status else None
        conditions.append(
            {"type": kind, "status": status, "lastTransitionTime": since or rfc3339(start_time or 0)}
        )
    out: Obj = {
        "phase": pod_phase,
        "conditions": conditions,
        "hostIP": node_ip,
        "podIP": node_ip,
        "podIPs": [{"ip": node_ip}],
        "containerStatuses": [container_status(v) for v in views],
    }
    if start_time is not None:
        out["startTime"] = rfc3339(start_time)
    return out


def _terminated(s: ContainerState) -> Obj:
    return {
        "exitCode": s.exit_code if s.exit_code is not None else -1,
        "reason": s.reason or "Error",
        "startedAt": _stamp(s.started_at),
        "finishedAt": _stamp(s.finished_at),
    }


def _stamp(t: float | None) -> str | None:
    return rfc3339(t) if t else None
