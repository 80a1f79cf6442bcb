"""The Deployment controller: keeps `replicas` pods of the current template, rolls
updates out within maxSurge/maxUnavailable, writes status, and says what it did in
Events.

Level-triggered: `reconcile(key)` reads the Deployment and its pods afresh from the
API (not from a cache, so it never acts twice on a stale picture), computes
`rollout.plan`, and executes one step.  Informer events only decide *when* to
reconcile.  Idempotent: reconciling twice in a row does nothing the second time.

Keys are `namespace/name` of Deployments, queued by Deployment events, by events of
the pods a Deployment controls, and by a full resync (see `controller.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from control_plane.api import paths
from control_plane.api.objects import Obj, controller_of, object_key
from control_plane.client.errors import StatusError, is_not_found
from control_plane.client.events import EventRecorder
from control_plane.client.informer import Informer
from control_plane.client.interface import Api
from control_plane.controllers.controller import ControllerContext, Resync, Watch
from control_plane.controllers.rollout import HASH_LABEL, plan, template_hash

log = logging.getLogger(__name__)
PODS, DEPLOYMENTS = paths.resource("pods"), paths.resource("deployments")


def new(ctx: ControllerContext) -> DeploymentController:
    return DeploymentController(ctx.client, ctx.informers.get("deployments"), ctx.informers.get("pods"),
                                ctx.events, ctx.config.deployment_workers, ctx.config.resync_period)


class DeploymentController:
    name = "deployment-controller"

    def __init__(self, client: Api, deployments: Informer, pods: Informer,
                 events: EventRecorder | None = None, workers: int = 2, resync_period: float = 30.0) -> None:
        self.client, self.events = client, events
        self.deployments, self.pods = deployments, pods
        self.workers, self.resync_period = workers, resync_period

    def watches(self) -> Sequence[Watch]:
        return [Watch(self.deployments, self.keys_for_deployment), Watch(self.pods, self.keys_for_pod)]

    def resync(self) -> Resync:
        return Resync(self.resync_period, lambda: [object_key(d) for d in self.deployments.items()])

    @staticmethod
    def keys_for_deployment(kind: str, deploy: Obj) -> list[str]:
        # A deleted Deployment needs nothing from us: the garbage collector takes its pods.
        return [] if kind == "DELETED" else [object_key(deploy)]

    @staticmethod
    def keys_for_pod(kind: str, pod: Obj) -> list[str]:
        """The Deployment key a pod event should wake up (its controller), if any."""
        ref = controller_of(pod)
        if ref and ref.get("kind") == "Deployment":
            return [f"{pod['metadata'].get('namespace', 'default')}/{ref.get('name')}"]
        return []

    def reconcile(self, key: str) -> None:
        """One step towards the desired state of Deployment `key` (`ns/name`).
        Raises ApiClientError on API failures (the caller retries with back-off)."""
        ns, name = key.split("/", 1)
        try:
            deploy = self.client.get(paths.path(DEPLOYMENTS, ns, name))
        except StatusError as err:
            if is_not_found(err):
                return  # deleted: the garbage collector removes its pods
            raise
        if deploy["metadata"].get("deletionTimestamp"):
            return
        uid = deploy["metadata"]["uid"]
        pods = [p for p in self.client.list(paths.path(PODS, ns))["items"]
                if (controller_of(p) or {}).get("uid") == uid]
        step = plan(deploy, pods)
        for pod_name in step.delete:
            self._delete(deploy, pod_name)
        for _ in range(step.create):
            self._create(deploy)
        if _status_changed(deploy.get("status") or {}, step.status):
            body = {"metadata": {"resourceVersion": deploy["metadata"]["resourceVersion"]},
                    "status": step.status}
            try:
                self.client.replace(paths.path(DEPLOYMENTS, ns, name, "status"), body)
            except StatusError as err:
                if err.code not in (404, 409):  # 409: changed meanwhile; its event re-queues us
                    raise

    def _create(self, deploy: Obj) -> None:
        meta, spec = deploy["metadata"], deploy["spec"]
        template = spec.get("template") or {}
        digest = template_hash(template)
        tmeta = template.get("metadata") or {}
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "generateName": f"{meta['name']}-{digest}-",
                "labels": {**(tmeta.get("labels") or {}), HASH_LABEL: digest},
                "annotations": dict(tmeta.get("annotations") or {}),
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"],
                                     "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}],
            },
            "spec": template.get("spec") or {},
        }
        created = self.client.create(paths.path(PODS, meta["namespace"]), pod)
        if self.events:
            self.events.record(deploy, "Normal", "SuccessfulCreate",
                               f"Created pod: {created['metadata']['name']}")

    def _delete(self, deploy: Obj, pod_name: str) -> None:
        try:
            self.client.delete(paths.path(PODS, deploy["metadata"]["namespace"], pod_name))
        except StatusError as err:
            if not is_not_found(err):
                raise
            return
        if self.events:
            self.events.record(deploy, "Normal", "SuccessfulDelete", f"Deleted pod: {pod_name}")


def _status_changed(old: Obj, new: Obj) -> bool:
    def strip(s: Obj) -> Obj:
        conditions = [(c.get("type"), c.get("status"), c.get("reason")) for c in s.get("conditions") or []]
        return {k: v for k, v in s.items() if k != "conditions"} | {"conditions": conditions}
    return strip(old) != strip(new)
