"""The kinds the API serves: where they live in the URL space and in the store."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    """One REST resource, e.g. pods: `/api/v1/namespaces/{ns}/pods`."""

    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def prefix(self, namespace: str | None = None) -> bytes:
        """Store key prefix of all objects (of one namespace, if given)."""
        base = f"/registry/{self.group or 'core'}/{self.plural}/"
        if self.namespaced and namespace:
            base += f"{namespace}/"
        return base.encode()

    def key(self, namespace: str | None, name: str) -> bytes:
        return self.prefix(namespace if self.namespaced else None) + name.encode()


RESOURCES = [
    Resource("", "v1", "Namespace", "namespaces", namespaced=False),
    Resource("", "v1", "Node", "nodes", namespaced=False),
    Resource("", "v1", "Pod", "pods", namespaced=True),
    Resource("", "v1", "Service", "services", namespaced=True),
    Resource("", "v1", "Event", "events", namespaced=True),
    Resource("apps", "v1", "Deployment", "deployments", namespaced=True),
    Resource("coordination.k8s.io", "v1", "Lease", "leases", namespaced=True),
]

BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
NAMESPACES = BY_PATH[("", "v1", "namespaces")]
INITIAL_NAMESPACES = ("default", "kube-system", "kube-node-lease", "kube-public")
