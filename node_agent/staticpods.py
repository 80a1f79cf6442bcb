"""Static pods: pods defined by files in the agent's manifests directory, run by the
agent itself whatever the API says (that is how masters run the store, API server,
scheduler and controller manager), and shown in the API as *mirror pods*.

- Each `*.yaml`/`*.yml`/`*.json` file holds one Pod.  Its identity (uid) is a hash of
  the node name and the file's content, so an edited manifest is a new pod: the old
  one is stopped and the new one started.
- The mirror pod is `<name>-<node>` in the manifest's namespace (default
  `kube-system`), bound to this node, annotated `kubernetes.io/config.mirror` with
  the hash.  Deleting it in the API does not stop the static pod; the agent creates
  it again.  Its status is the static pod's.
- A bad manifest is logged and skipped; the others still run.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import yaml

from control_plane.api import paths
from control_plane.api.objects import MIRROR_ANNOTATION as MIRROR
from control_plane.api.objects import Obj
from control_plane.client.errors import StatusError, is_not_found
from control_plane.client.interface import Api
from node_agent.desired import DesiredPod

log = logging.getLogger(__name__)
PODS = paths.resource("pods")
SUFFIXES = (".yaml", ".yml", ".json")


def load(directory: Path, node_name: str) -> list[DesiredPod]:
    """The static pods in `directory` (none if it does not exist)."""
    pods: list[DesiredPod] = []
    if not directory.is_dir():
        return pods
    for path in sorted(directory.iterdir()):
        if path.suffix not in SUFFIXES or not path.is_file():
            continue
        try:
            pods.append(from_manifest(yaml.safe_load(path.read_text()), node_name))
        except (OSError, yaml.YAMLError, ValueError) as err:
            log.error("static pod manifest %s skipped: %s", path, err)
    return pods


def from_manifest(doc: Any, node_name: str) -> DesiredPod:
    if not isinstance(doc, dict) or doc.get("kind") != "Pod" or not (doc.get("metadata") or {}).get("name"):
        raise ValueError("a static pod manifest must be one Pod with metadata.name")
    digest = hashlib.sha256((node_name + json.dumps(doc, sort_keys=True)).encode()).hexdigest()
    pod = copy.deepcopy(doc)
    meta = pod["metadata"]
    meta.setdefault("namespace", "kube-system")
    meta["uid"] = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    meta.setdefault("annotations", {})[MIRROR] = digest[:32]
    pod.setdefault("spec", {})["nodeName"] = node_name
    return DesiredPod(meta["uid"], pod, static=True)


def mirror_name(pod: Obj, node_name: str) -> str:
    return f"{pod['metadata']['name']}-{node_name}"


def mirror_object(desired: DesiredPod, node_name: str) -> Obj:
    meta = desired.obj["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": mirror_name(desired.obj, node_name),
            "namespace": desired.namespace,
            "labels": dict(meta.get("labels") or {}),
            "annotations": {**(meta.get("annotations") or {}), "kubernetes.io/config.source": "file"},
        },
        "spec": copy.deepcopy(desired.obj["spec"]),
    }


def ensure_mirror(api: Api, desired: DesiredPod, node_name: str) -> bool:
    """Create the mirror pod; replace one left from an older version of the manifest, or
    one being deleted (the kubelet's rule: a mirror pod deleted through the API is created
    again at once, and the static pod never stops for it).  True when it created one
    (its status must then be reported again)."""
    name = mirror_name(desired.obj, node_name)
    path = paths.path(PODS, desired.namespace, name)
    try:
        current = api.get(path)
        hashes = (current["metadata"].get("annotations") or {}).get(MIRROR)
        deleting = bool(current["metadata"].get("deletionTimestamp"))
        if hashes == desired.obj["metadata"]["annotations"][MIRROR] and not deleting:
            return False
        api.delete(path, grace=0)
    except StatusError as err:
        if not is_not_found(err):
            raise
    try:
        api.create(paths.path(PODS, desired.namespace), mirror_object(desired, node_name))
    except StatusError as err:
        if err.code != 409:
            raise
        return False
    return True
