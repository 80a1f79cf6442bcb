"""`GET /apis/skiff.io/v1/clusterstatus`: the store members and the control-plane leaders,
as one API server sees them (read-only; what `skiff cluster status` prints).

Contract:
- Each store member is asked for its own status directly (no failover), all members in
  parallel, so one dead or hung member costs one attempt timeout, not one per member.
  A member that does not answer is reported `reachable: false` with the error.
- `leader` is true for a member that names itself leader; during an election there may
  be none.  Names come from the member list (matched by id, or by client URL for a
  member that does not answer), which needs one live member; without one they are
  missing.
- The holders of the Leases kube-system/kube-scheduler and
  kube-system/kube-controller-manager are read from the store like any object; a
  missing Lease is `null`.
- Never raises for an unreachable member; a store without quorum still yields member
  rows (the Lease reads then fail as 503, which is the honest answer).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from control_plane.api.objects import Obj
from control_plane.api.resources import BY_PATH
from control_plane.apiserver.errors import ApiError
from control_plane.apiserver.handlers import Handlers
from raftstore.client import StoreClient
from raftstore.errors import StoreError

LEASES = BY_PATH[("coordination.k8s.io", "v1", "leases")]
COMPONENT_LEASES = ("kube-scheduler", "kube-controller-manager")
LEASE_NAMESPACE = "kube-system"


def cluster_status(handlers: Handlers) -> Obj:
    """The ClusterStatus object (see the module doc)."""
    client = handlers.store.client
    return {"kind": "ClusterStatus", "apiVersion": "skiff.io/v1",
            "store": {"members": store_members(client)},
            "leases": {name: lease_holder(handlers, name) for name in COMPONENT_LEASES}}


def store_members(client: StoreClient) -> list[Obj]:
    """One row per configured store endpoint, in the order of the endpoint list."""
    known = _members(client)
    with ThreadPoolExecutor(max_workers=max(1, len(client.endpoints))) as pool:
        rows = list(pool.map(lambda endpoint: _member_row(client, endpoint, known), client.endpoints))
    return rows


def _member_row(client: StoreClient, endpoint: str, known: list[Obj]) -> Obj:
    shown = endpoint.removeprefix("http://")
    try:
        st = client.status(endpoint)
    except StoreError as err:
        listed = next((m for m in known if endpoint in m["client_urls"]), None)
        row: Obj = {"endpoint": shown, "reachable": False, "leader": False, "error": err.message}
        if listed is not None:
            row.update({"memberId": format(int(listed["id"]), "x"), "name": listed["name"]})
        return row
    member_id = int(st["member_id"])
    name = next((str(m["name"]) for m in known if int(m["id"]) == member_id), "")
    return {"endpoint": shown, "reachable": True, "leader": member_id != 0 and st["leader"] == member_id,
            "raftTerm": st["term"], "revision": st["revision"], "memberId": format(member_id, "x"),
            "name": name, "leaderId": format(int(st["leader"]), "x")}


def _members(client: StoreClient) -> list[Obj]:
    """The member list (ids, names, client URLs), or [] when no member answers."""
    try:
        return client.member_list()
    except StoreError:
        return []


def lease_holder(handlers: Handlers, name: str) -> Obj | None:
    """The Lease's holder and timing, or None when there is no such Lease."""
    try:
        lease = handlers.store.get(LEASES, LEASE_NAMESPACE, name)
    except ApiError as err:
        if err.is_not_found:
            return None
        raise
    spec = lease.get("spec") or {}
    return {"holderIdentity": spec.get("holderIdentity") or "", "renewTime": spec.get("renewTime"),
            "leaseDurationSeconds": spec.get("leaseDurationSeconds")}
