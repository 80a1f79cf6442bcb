"""From a Pod's spec to what the runtime runs: argv, environment, limits, restart
policy and back-off.  Pure functions; the pod worker does the I/O."""

from __future__ import annotations

from dataclasses import dataclass

from control_plane.api.objects import Obj
from control_plane.api.quantity import cpu_millis, memory_bytes
from node_agent.runtime.base import ContainerSpec


class ConfigProblem(Exception):
    """A container cannot be run as specified; `reason` is Kubernetes' waiting reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


def container_spec(pod: Obj, container: Obj, uid: str, node_ip: str) -> ContainerSpec:
    """The runtime's view of one container; raises ConfigProblem when it cannot run."""
    meta = pod.get("metadata") or {}
    argv = [str(x) for x in (container.get("command") or [])] + [
        str(x) for x in (container.get("args") or [])
    ]
    if not container.get("command"):
        raise ConfigProblem(
            "CreateContainerConfigError",
            f"the process runtime runs a container's `command`; container "
            f"{container.get('name')} has none (image {container.get('image', '?')!r} "
            "cannot be run by this runtime)",
        )
    limits = (container.get("resources") or {}).get("limits") or {}
    try:
        memory = memory_bytes(limits["memory"]) if "memory" in limits else None
        cpu = cpu_millis(limits["cpu"]) if "cpu" in limits else None
    except (ValueError, TypeError) as err:
        raise ConfigProblem("CreateContainerConfigError", f"bad resource limit: {err}") from None
    return ContainerSpec(
        uid,
        str(meta.get("namespace", "default")),
        str(meta.get("name", "")),
        str(container.get("name")),
        argv,
        environment(pod, container, node_ip),
        container.get("workingDir"),
        memory,
        cpu,
    )


def environment(pod: Obj, container: Obj, node_ip: str) -> dict[str, str]:
    """`env` values, with the downward API for the pod's own fields."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    fields = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", "default"),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "status.podIP": node_ip,
        "status.hostIP": node_ip,
    }
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        name = str(item.get("name"))
        if "value" in item or "valueFrom" not in item:
            env[name] = str(item.get("value", ""))
            continue
        ref = (item.get("valueFrom") or {}).get("fieldRef") or {}
        path = ref.get("fieldPath")
        if path not in fields:
            raise ConfigProblem(
                "CreateContainerConfigError",
                f"env {name}: only fieldRef to {', '.join(sorted(fields))} is supported",
            )
        env[name] = str(fields[path])
    return env


def restarts_allowed(policy: str | None, exit_code: int | None) -> bool:
    """Whether an exited container is started again (restartPolicy, default Always)."""
    if policy in (None, "", "Always"):
        return True
    if policy == "OnFailure":
        return exit_code != 0
    return False


@dataclass
class Backoff:
    """Kubernetes' crash-loop back-off: base doubling to cap; reset after a long run."""

    base: float = 10.0
    cap: float = 300.0
    reset_after: float = 600.0

    def delay(self, restarts: int) -> float:
        return float(min(self.cap, self.base * 2 ** max(0, restarts - 1))) if restarts > 0 else 0.0
