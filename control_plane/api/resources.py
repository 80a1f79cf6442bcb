"""The kinds the API serves and where they live in the URL space (store keys: `apiserver.keys`)."""

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
