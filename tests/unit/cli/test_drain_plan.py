"""Which pods `skiff drain` evicts, leaves alone, or refuses to evict (pure)."""

from __future__ import annotations

from typing import Any

from control_plane.cli.drain_cmd import plan


def pod(name: str, owner: str | None = None, mirror: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": "x", "controller": True}]
    if mirror:
        meta["annotations"] = {"kubernetes.io/config.mirror": "hash"}
    return {"metadata": meta}


def test_plan() -> None:
    pods = [pod("rs", "ReplicaSet"), pod("ds", "DaemonSet"), pod("static", mirror=True), pod("bare")]
    strict = plan(pods, force=False)
    assert [p["metadata"]["name"] for p in strict.evict] == ["rs"]
    assert strict.refused == ["default/bare"] and strict.forced == []
    assert strict.ignored == {"DaemonSet-managed Pods": ["default/ds"],
                              "static (mirror) Pods": ["default/static"]}
    forced = plan(pods, force=True)
    assert [p["metadata"]["name"] for p in forced.evict] == ["bare", "rs"]
    assert forced.refused == [] and forced.forced == ["default/bare"]


def test_finished_bare_pods_do_not_need_force() -> None:
    done = pod("job")
    done["status"] = {"phase": "Failed"}
    out = plan([done], force=False)
    assert [p["metadata"]["name"] for p in out.evict] == ["job"] and out.refused == [] and out.forced == []
