"""Table columns of `skiff get`, per kind, as kubectl prints them.

Each column is a header and a pure function `(object, now) -> text`; `-o wide` adds the
columns marked `wide`, `-A` puts NAMESPACE first.  Status words follow kubectl: a pod
is `Terminating` once it has a deletionTimestamp, else the reason its container waits
(`ContainerCreating`, `CrashLoopBackOff`...), else its phase; a node is `Ready`,
`NotReady` or `Unknown`, plus `,SchedulingDisabled` when cordoned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from control_plane.api.objects import Obj
from control_plane.api.resources import Resource
from control_plane.cli.humanize import UNKNOWN, age, percent

Cell = Callable[[Obj, float], str]
NONE = "<none>"
ROLE_PREFIX = "node-role.kubernetes.io/"


@dataclass(frozen=True)
class Column:
    header: str
    cell: Cell
    wide: bool = False


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _text(path: str, default: str = NONE) -> Cell:
    def cell(obj: Obj, _: float) -> str:
        value = _get(obj, path)
        return default if value in (None, "") else str(value)
    return cell


def _name(obj: Obj, _: float) -> str:
    return str(_get(obj, "metadata.name") or "")


def _age(obj: Obj, now: float) -> str:
    return age(_get(obj, "metadata.creationTimestamp"), now)


# ---- pods ------------------------------------------------------------------------------
def pod_ready(pod: Obj, _: float = 0.0) -> str:
    statuses = _get(pod, "status.containerStatuses") or []
    containers = _get(pod, "spec.containers") or []
    ready = sum(1 for c in statuses if isinstance(c, dict) and c.get("ready"))
    return f"{ready}/{len(containers)}"


def pod_status(pod: Obj, _: float = 0.0) -> str:
    if _get(pod, "metadata.deletionTimestamp"):
        return "Terminating"
    if _get(pod, "status.reason"):
        return str(_get(pod, "status.reason"))
    for c in _get(pod, "status.containerStatuses") or []:
        waiting = _get(c, "state.waiting.reason")
        if waiting:
            return str(waiting)
    phase = str(_get(pod, "status.phase") or "Pending")
    if phase != "Running":
        for c in _get(pod, "status.containerStatuses") or []:
            terminated = _get(c, "state.terminated.reason")
            if terminated:
                return str(terminated)
    return phase


def pod_restarts(pod: Obj, _: float = 0.0) -> str:
    statuses = _get(pod, "status.containerStatuses") or []
    return str(sum(int(c.get("restartCount") or 0) for c in statuses if isinstance(c, dict)))


# ---- nodes -----------------------------------------------------------------------------
def node_status(node: Obj, _: float = 0.0) -> str:
    ready = next((c for c in _get(node, "status.conditions") or []
                  if isinstance(c, dict) and c.get("type") == "Ready"), None)
    word = "Unknown"
    if ready is not None and ready.get("status") == "True":
        word = "Ready"
    elif ready is not None and ready.get("status") == "False":
        word = "NotReady"
    return word + (",SchedulingDisabled" if _get(node, "spec.unschedulable") else "")


def node_roles(node: Obj, _: float = 0.0) -> str:
    labels = _get(node, "metadata.labels") or {}
    roles = sorted(k[len(ROLE_PREFIX):] for k in labels if k.startswith(ROLE_PREFIX) and k != ROLE_PREFIX)
    if labels.get("kubernetes.io/role"):
        roles = sorted({*roles, str(labels["kubernetes.io/role"])})
    return ",".join(roles) or NONE


def node_address(node: Obj, kind: str = "InternalIP") -> str:
    for addr in _get(node, "status.addresses") or []:
        if isinstance(addr, dict) and addr.get("type") == kind and addr.get("address"):
            return str(addr["address"])
    return NONE


def _usage(key: str) -> Cell:
    def cell(node: Obj, _: float) -> str:
        value = _get(node, f"status.usage.{key}")
        return UNKNOWN if value is None else percent(value)
    return cell


# ---- others ----------------------------------------------------------------------------
def deployment_ready(dep: Obj, _: float = 0.0) -> str:
    desired = _get(dep, "spec.replicas")
    return f"{_get(dep, 'status.readyReplicas') or 0}/{1 if desired is None else desired}"


def service_ports(svc: Obj, _: float = 0.0) -> str:
    ports = []
    for p in _get(svc, "spec.ports") or []:
        if isinstance(p, dict):
            node_port = f":{p['nodePort']}" if p.get("nodePort") else ""
            ports.append(f"{p.get('port')}{node_port}/{p.get('protocol') or 'TCP'}")
    return ",".join(ports) or NONE


def selector_text(selector: object) -> str:
    if not isinstance(selector, dict) or not selector:
        return NONE
    return ",".join(f"{k}={v}" for k, v in selector.items())


def event_object(ev: Obj, _: float = 0.0) -> str:
    involved = ev.get("involvedObject") or {}
    return f"{str(involved.get('kind') or '').lower()}/{involved.get('name') or ''}"


def event_last_seen(ev: Obj, now: float) -> str:
    stamp = ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp")
    return age(stamp or _get(ev, "metadata.creationTimestamp"), now)


def _containers(path: str, field: str) -> Cell:
    def cell(obj: Obj, _: float) -> str:
        values = [str(c.get(field) or "") for c in _get(obj, path) or [] if isinstance(c, dict)]
        return ",".join(values) or NONE
    return cell


NAME, AGE = Column("NAME", _name), Column("AGE", _age)
POD_COLUMNS = [
    NAME, Column("READY", pod_ready), Column("STATUS", pod_status), Column("RESTARTS", pod_restarts), AGE,
    Column("IP", _text("status.podIP"), wide=True), Column("NODE", _text("spec.nodeName"), wide=True),
]
NODE_COLUMNS = [
    NAME, Column("STATUS", node_status), Column("ROLES", node_roles), AGE,
    Column("VERSION", _text("status.nodeInfo.kubeletVersion", "")),
    Column("INTERNAL-IP", lambda n, _: node_address(n), wide=True),
    Column("CPU%", _usage("cpuFraction"), wide=True), Column("MEM%", _usage("memoryFraction"), wide=True),
    Column("OS-IMAGE", _text("status.nodeInfo.osImage", UNKNOWN), wide=True),
]
DEPLOYMENT_COLUMNS = [
    NAME, Column("READY", deployment_ready), Column("UP-TO-DATE", _text("status.updatedReplicas", "0")),
    Column("AVAILABLE", _text("status.availableReplicas", "0")), AGE,
    Column("CONTAINERS", _containers("spec.template.spec.containers", "name"), wide=True),
    Column("IMAGES", _containers("spec.template.spec.containers", "image"), wide=True),
    Column("SELECTOR", lambda d, _: selector_text(_get(d, "spec.selector.matchLabels")), wide=True),
]
SERVICE_COLUMNS = [
    NAME, Column("TYPE", _text("spec.type", "ClusterIP")), Column("CLUSTER-IP", _text("spec.clusterIP")),
    Column("EXTERNAL-IP", lambda s, _: ",".join(_get(s, "spec.externalIPs") or []) or NONE),
    Column("PORT(S)", service_ports), AGE,
    Column("SELECTOR", lambda s, _: selector_text(_get(s, "spec.selector")), wide=True),
]
EVENT_COLUMNS = [
    Column("LAST SEEN", event_last_seen), Column("TYPE", _text("type", "Normal")),
    Column("REASON", _text("reason", "")), Column("OBJECT", event_object),
    Column("SOURCE", _text("source.component", ""), wide=True),
    Column("COUNT", _text("count", "1"), wide=True),
    Column("MESSAGE", _text("message", "")),
]
COLUMNS: dict[str, list[Column]] = {
    "Pod": POD_COLUMNS, "Node": NODE_COLUMNS, "Deployment": DEPLOYMENT_COLUMNS, "Service": SERVICE_COLUMNS,
    "Event": EVENT_COLUMNS, "Namespace": [NAME, Column("STATUS", _text("status.phase", "Active")), AGE],
    "Lease": [NAME, Column("HOLDER", _text("spec.holderIdentity", "")), AGE],
}
NAMESPACE = Column("NAMESPACE", _text("metadata.namespace", ""))


def columns(res: Resource, wide: bool = False, all_namespaces: bool = False) -> list[Column]:
    """The columns for a kind (NAME and AGE for a kind without its own)."""
    chosen = [c for c in COLUMNS.get(res.kind, [NAME, AGE]) if wide or not c.wide]
    return [NAMESPACE, *chosen] if all_namespaces and res.namespaced else chosen


def headers(cols: Sequence[Column]) -> list[str]:
    return [c.header for c in cols]


def rows(objs: Iterable[Obj], cols: Sequence[Column], now: float) -> list[list[str]]:
    return [[c.cell(obj, now) for c in cols] for obj in objs]
