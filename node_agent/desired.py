"""A pod the agent should be running, from either of its sources (API or manifest)."""

from __future__ import annotations

from dataclasses import dataclass

from control_plane.api.objects import Obj


@dataclass
class DesiredPod:
    uid: str  # the runtime's identity: the API uid, or the static pod's content hash
    obj: Obj
    static: bool = False

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"].get("namespace") or "default")

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])
