"""What `skiff describe` says about each kind: pure functions from objects to text.

`Doc` is a tiny tab-writer: aligned `Label:  value` lines, nested blocks and small
tables, kubectl describe's layout.  Each `describe_<kind>` adds the fields that matter
for that kind; `common` the metadata every object has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from control_plane.api.objects import Obj
from control_plane.cli import printers
from control_plane.cli.humanize import UNKNOWN, age, cores, memory, percent
from control_plane.cli.threeway import LAST_APPLIED

NONE = "<none>"
INDENT = "  "


@dataclass
class Doc:
    """Lines of a description; labels of consecutive fields at one level are aligned."""

    lines: list[tuple[int, str, str | None]] = field(default_factory=list)  # (level, label, value)

    def field(self, label: str, value: object, level: int = 0) -> None:
        self.lines.append((level, label + ":", _plain(value)))

    def items(self, label: str, values: Sequence[str], level: int = 0) -> None:
        """A label with one value per line (labels, taints...), `<none>` when empty."""
        self.field(label, values[0] if values else NONE, level)
        for value in values[1:]:
            self.lines.append((level, "", value))

    def section(self, label: str, level: int = 0) -> None:
        self.lines.append((level, label + ":", None))

    def grid(self, headers: Sequence[str], rows: Sequence[Sequence[str]], level: int = 1) -> None:
        if not rows:
            self.lines.append((level, NONE, None))
            return
        widths = [max(len(str(r[i])) for r in [headers, [("-" * len(h)) for h in headers], *rows])
                  for i, h in enumerate(headers)]
        for row in [headers, ["-" * len(h) for h in headers], *rows]:
            text = "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            self.lines.append((level, text, None))

    def render(self) -> str:
        out: list[str] = []
        width = 0
        for i, (level, label, value) in enumerate(self.lines):
            if value is None:
                out.append(f"{INDENT * level}{label}")
                continue
            if i == 0 or self.lines[i - 1][2] is None or self.lines[i - 1][0] != level:
                width = self._run_width(i)  # consecutive fields at one level share a label width
            out.append(f"{INDENT * level}{label.ljust(width)}  {value}".rstrip())
        return "\n".join(out) + "\n"

    def _run_width(self, start: int) -> int:
        level, width = self.lines[start][0], 0
        for lvl, label, value in self.lines[start:]:
            if value is None or lvl != level:
                break
            width = max(width, len(label))
        return width


def _plain(value: object) -> str:
    if value is None or value == "":
        return NONE
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def pairs(mapping: object, sep: str = "=") -> list[str]:
    return [f"{k}{sep}{v}" for k, v in sorted(mapping.items())] if isinstance(mapping, dict) else []


def common(doc: Doc, obj: Obj, namespaced: bool) -> None:
    meta = obj.get("metadata") or {}
    doc.field("Name", meta.get("name"))
    if namespaced:
        doc.field("Namespace", meta.get("namespace"))
    doc.items("Labels", pairs(meta.get("labels")))
    shown = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    doc.items("Annotations", pairs(shown, ": "))
    doc.field("CreationTimestamp", meta.get("creationTimestamp"))
    if meta.get("deletionTimestamp"):
        doc.field("DeletionTimestamp", f"{meta['deletionTimestamp']} (grace period "
                                       f"{meta.get('deletionGracePeriodSeconds', '?')}s)")
    owners = [f"{o.get('kind')}/{o.get('name')}" for o in meta.get("ownerReferences") or []
              if isinstance(o, dict)]
    if owners:
        doc.field("Controlled By", ", ".join(owners))


def conditions(doc: Doc, obj: Obj, extra: Sequence[str] = ()) -> None:
    doc.section("Conditions")
    rows = [[str(c.get("type", "")), str(c.get("status", "")), *(str(c.get(k) or "") for k in extra)]
            for c in _get(obj, "status.conditions") or [] if isinstance(c, dict)]
    doc.grid(["Type", "Status", *(k[0].upper() + k[1:] for k in extra)], rows)


def containers(doc: Doc, specs: list[Obj], statuses: list[Obj], level: int = 0) -> None:
    doc.section("Containers", level)
    by_name = {s.get("name"): s for s in statuses if isinstance(s, dict)}
    for c in specs:
        if not isinstance(c, dict):
            continue
        doc.section(str(c.get("name")), level + 1)
        inner = level + 2
        doc.field("Image", c.get("image"), inner)
        if c.get("command"):
            doc.items("Command", [str(x) for x in c["command"]], inner)
        if c.get("args"):
            doc.items("Args", [str(x) for x in c["args"]], inner)
        st = by_name.get(c.get("name"))
        if st is not None:
            state = st.get("state") or {}
            word = next(iter(state), "")
            reason = (state.get(word) or {}).get("reason") if word else None
            doc.field("State", f"{word.capitalize()}{f' ({reason})' if reason else ''}" or UNKNOWN, inner)
            doc.field("Ready", bool(st.get("ready")), inner)
            doc.field("Restart Count", st.get("restartCount", 0), inner)
        for part in ("requests", "limits"):
            values = (c.get("resources") or {}).get(part)
            if values:
                doc.items(part.capitalize(), pairs(values, ": "), inner)
        env = [f"{e.get('name')}={e.get('value', '')}" for e in c.get("env") or [] if isinstance(e, dict)]
        doc.items("Environment", env, inner)


def describe_pod(doc: Doc, pod: Obj) -> None:
    doc.field("Node", _get(pod, "spec.nodeName"))
    doc.field("Start Time", _get(pod, "status.startTime"))
    doc.field("Status", printers.pod_status(pod))
    for key in ("reason", "message"):
        if _get(pod, f"status.{key}"):
            doc.field(key.capitalize(), _get(pod, f"status.{key}"))
    doc.field("IP", _get(pod, "status.podIP"))
    containers(doc, _get(pod, "spec.containers") or [], _get(pod, "status.containerStatuses") or [])
    conditions(doc, pod, ("reason", "message"))
    doc.items("Node-Selectors", pairs(_get(pod, "spec.nodeSelector")))
    tolerations = [f"{t.get('key', '')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect', '')}"
                   f" op={t.get('operator', 'Equal')}" for t in _get(pod, "spec.tolerations") or []
                   if isinstance(t, dict)]
    doc.items("Tolerations", tolerations)


def describe_node(doc: Doc, node: Obj, pods: list[Obj], now: float) -> None:
    doc.field("Roles", printers.node_roles(node))
    doc.field("Status", printers.node_status(node))
    taints = [f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}"
              for t in _get(node, "spec.taints") or [] if isinstance(t, dict)]
    doc.items("Taints", taints)
    doc.field("Unschedulable", bool(_get(node, "spec.unschedulable")))
    conditions(doc, node, ("lastHeartbeatTime", "reason", "message"))
    addresses = _get(node, "status.addresses") or []
    doc.items("Addresses", [f"{a.get('type')}: {a.get('address')}" for a in addresses if isinstance(a, dict)])
    for part in ("capacity", "allocatable"):
        doc.section(part.capitalize())
        for key, value in sorted((_get(node, f"status.{part}") or {}).items()):
            doc.field(key, value, 1)
    doc.section("Usage")
    doc.field("cpu", percent(_get(node, "status.usage.cpuFraction")), 1)
    doc.field("memory", percent(_get(node, "status.usage.memoryFraction")), 1)
    doc.section("System Info")
    for key, value in (_get(node, "status.nodeInfo") or {}).items():
        doc.field(key[0].upper() + key[1:], value, 1)
    doc.section(f"Non-terminated Pods ({len(pods)} in total)")
    rows = [[str(_get(p, "metadata.namespace")), str(_get(p, "metadata.name")), _requests(p, "cpu"),
             _requests(p, "memory"), age(_get(p, "metadata.creationTimestamp"), now)] for p in pods]
    doc.grid(["Namespace", "Name", "CPU Requests", "Memory Requests", "Age"], rows)


def _requests(pod: Obj, resource: str) -> str:
    values = [((c.get("resources") or {}).get("requests") or {}).get(resource)
              for c in _get(pod, "spec.containers") or [] if isinstance(c, dict)]
    present = [v for v in values if v is not None]
    if not present:
        return "0"
    if len(present) == 1:
        return cores(present[0]) if resource == "cpu" else memory(present[0])
    return "+".join(str(v) for v in present)


def describe_deployment(doc: Doc, dep: Obj) -> None:
    doc.field("Selector", printers.selector_text(_get(dep, "spec.selector.matchLabels")))
    st = dep.get("status") or {}
    desired = _get(dep, "spec.replicas")
    doc.field("Replicas", f"{1 if desired is None else desired} desired | {st.get('updatedReplicas', 0)} "
                          f"updated | {st.get('replicas', 0)} total | {st.get('availableReplicas', 0)} "
                          f"available | {st.get('unavailableReplicas', 0)} unavailable")
    doc.field("StrategyType", _get(dep, "spec.strategy.type") or "RollingUpdate")
    doc.section("Pod Template")
    doc.items("Labels", pairs(_get(dep, "spec.template.metadata.labels")), 1)
    containers(doc, _get(dep, "spec.template.spec.containers") or [], [], level=1)
    conditions(doc, dep, ("reason", "message"))


def describe_service(doc: Doc, svc: Obj) -> None:
    doc.items("Selector", pairs(_get(svc, "spec.selector")))
    doc.field("Type", _get(svc, "spec.type") or "ClusterIP")
    doc.field("IP", _get(svc, "spec.clusterIP"))
    ports = [f"{p.get('name') or '<unset>'}  {p.get('port')}/{p.get('protocol') or 'TCP'}"
             f" -> {p.get('targetPort', p.get('port'))}" for p in _get(svc, "spec.ports") or []
             if isinstance(p, dict)]
    doc.items("Port(s)", ports)


def describe_lease(doc: Doc, lease: Obj) -> None:
    for label, key in (("Holder Identity", "holderIdentity"),
                       ("Lease Duration Seconds", "leaseDurationSeconds"), ("Acquire Time", "acquireTime"),
                       ("Renew Time", "renewTime"), ("Lease Transitions", "leaseTransitions")):
        doc.field(label, _get(lease, f"spec.{key}"))


def describe_event(doc: Doc, ev: Obj) -> None:
    doc.field("Type", ev.get("type"))
    doc.field("Reason", ev.get("reason"))
    doc.field("Object", printers.event_object(ev))
    doc.field("Source", _get(ev, "source.component"))
    doc.field("Count", ev.get("count", 1))
    doc.field("First Timestamp", ev.get("firstTimestamp"))
    doc.field("Last Timestamp", ev.get("lastTimestamp"))
    doc.field("Message", ev.get("message"))


def describe_namespace(doc: Doc, ns: Obj) -> None:
    doc.field("Status", _get(ns, "status.phase") or "Active")


SIMPLE: dict[str, Callable[[Doc, Obj], None]] = {
    "Pod": describe_pod, "Deployment": describe_deployment, "Service": describe_service,
    "Lease": describe_lease, "Event": describe_event, "Namespace": describe_namespace,
}


def events(doc: Doc, items: list[Obj], now: float) -> None:
    """The object's Events, oldest first, with kubectl's `5s (x3 over 2m)` ages."""
    doc.section("Events")
    rows = []
    for ev in sorted(items, key=lambda e: str(e.get("lastTimestamp") or e.get("firstTimestamp") or "")):
        seen = printers.event_last_seen(ev, now)
        count = int(ev.get("count") or 1)
        if count > 1:
            seen += f" (x{count} over {age(ev.get('firstTimestamp'), now)})"
        rows.append([str(ev.get("type") or ""), str(ev.get("reason") or ""), seen,
                     str(_get(ev, "source.component") or ""), str(ev.get("message") or "")])
    doc.grid(["Type", "Reason", "Age", "From", "Message"], rows)
