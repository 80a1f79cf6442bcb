"""The scheduler's picture of the cluster: a NodeView per node, with the requests of
the pods bound there (and of pods it has *assumed* bound while their binding is in
flight), kept current by the informers' events.

Thread-safe: informer threads update it, the scheduling thread reads it; `lock` is
held by the scheduling thread for a whole decision so a view never changes mid-way.
"""

from __future__ import annotations

import threading

from control_plane.api.objects import TERMINAL_PHASES, Obj, object_key
from control_plane.scheduler.view import NodeView, PodView


class SchedulerCache:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.nodes: dict[str, NodeView] = {}
        self._placed: dict[str, tuple[str, PodView]] = {}  # pod key -> (node, pod)
        self._assumed: set[str] = set()

    def node_event(self, kind: str, obj: Obj) -> bool:
        """Apply a node event; True if it may let a waiting pod fit (new node, or a
        change of what filters read)."""
        name = (obj.get("metadata") or {}).get("name", "")
        with self.lock:
            old = self.nodes.pop(name, None)
            if kind == "DELETED":
                return False
            view = NodeView.from_object(obj)
            for node, pod in self._placed.values():
                if node == name:
                    view.add_pod(pod)
            self.nodes[name] = view
            return old is None or old.scheduling_fields() != view.scheduling_fields()

    def pod_event(self, kind: str, obj: Obj) -> bool:
        """Apply a pod event; True if it freed resources somewhere."""
        key = object_key(obj)
        node = (obj.get("spec") or {}).get("nodeName")
        phase = (obj.get("status") or {}).get("phase")
        with self.lock:
            if kind == "DELETED" or not node or phase in TERMINAL_PHASES:
                return self._release(key)
            self._assumed.discard(key)  # the binding is confirmed (or someone else bound it)
            if key not in self._placed or self._placed[key][0] != node:
                self._release(key)
                self._place(key, node, PodView.from_object(obj))
            return False

    def assume(self, key: str, node: str, pod: PodView) -> None:
        with self.lock:
            self._assumed.add(key)
            self._place(key, node, pod)

    def forget(self, key: str) -> None:
        """Undo `assume` after a failed binding."""
        with self.lock:
            if key in self._assumed:
                self._assumed.discard(key)
                self._release(key)

    def is_assumed(self, key: str) -> bool:
        with self.lock:
            return key in self._assumed

    def is_placed(self, key: str) -> bool:
        with self.lock:
            return key in self._placed

    def views(self) -> list[NodeView]:
        """The node views, sorted by name (call with `lock` held while deciding)."""
        with self.lock:
            return [self.nodes[n] for n in sorted(self.nodes)]

    def _place(self, key: str, node: str, pod: PodView) -> None:
        self._placed[key] = (node, pod)
        if node in self.nodes:
            self.nodes[node].add_pod(pod)

    def _release(self, key: str) -> bool:
        placed = self._placed.pop(key, None)
        self._assumed.discard(key)
        if placed is None:
            return False
        node, pod = placed
        if node in self.nodes:
            self.nodes[node].remove_pod(pod)
        return True
