"""The etcdctl-like verbs of `skiff store`: put, get, del, watch, status, members, compact,
member add/remove; each takes `--endpoints` and `-o table|json|yaml`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import typer
import yaml

from control_plane.api import defaults
from control_plane.cli.output import OUTPUT_OPTION, Output, emit, fail
from raftstore import quorum
from raftstore.client import StoreClient, prefix_end
from raftstore.errors import StoreError

T = TypeVar("T")
member_app = typer.Typer(help="Add or remove store members, one change at a time.", no_args_is_help=True)

DEFAULT_ENDPOINTS = defaults.LOCAL_STORE_ENDPOINTS
ENDPOINTS = typer.Option(DEFAULT_ENDPOINTS, "--endpoints", envvar="SKIFF_STORE_ENDPOINTS",
                         help="Comma-separated HOST:PORT of store members.")
TIMEOUT = typer.Option(5.0, "--timeout", help="Deadline of the whole command, seconds.")


def _client(endpoints: str, timeout: float) -> StoreClient:
    return StoreClient(endpoints, timeout=timeout)


def _text(b: bytes) -> str:
    return b.decode("utf-8", errors="backslashreplace")


def put(key: str, value: str, endpoints: str = ENDPOINTS, timeout: float = TIMEOUT,
        lease: int = typer.Option(0, "--lease", help="Attach the key to this lease ID."),
        output: Output = OUTPUT_OPTION) -> None:
    """Write a key.

    Example: skiff store put /config/mode fast
    """
    with _client(endpoints, timeout) as c:
        res = _do(lambda: c.put(key.encode(), value.encode(), lease=lease))
    emit({"key": key, "revision": res.revision}, output)


def get(key: str, endpoints: str = ENDPOINTS, timeout: float = TIMEOUT,
        prefix: bool = typer.Option(False, "--prefix", help="All keys starting with KEY."),
        revision: int = typer.Option(0, "--rev", help="Read as of this revision."),
        limit: int = typer.Option(0, "--limit", help="At most this many keys."),
        serializable: bool = typer.Option(False, "--serializable",
                                          help="Read the member's local copy (may be stale)."),
        output: Output = OUTPUT_OPTION) -> None:
    """Read a key or a prefix.

    Example: skiff store get /config --prefix -o json
    """
    end = prefix_end(key.encode()) if prefix else b""
    with _client(endpoints, timeout) as c:
        res = _do(lambda: c.get(key.encode(), end, revision=revision, limit=limit,
                                serializable=serializable))
    rows = [{"key": _text(kv.key), "value": _text(kv.value), "create_revision": kv.create_revision,
             "mod_revision": kv.mod_revision, "version": kv.version, "lease": kv.lease} for kv in res.kvs]
    if output == Output.table:
        emit(rows, output, ["key", "value", "mod_revision", "version"])
    else:
        emit({"revision": res.revision, "count": res.count, "more": res.more, "kvs": rows}, output)


def delete(key: str, endpoints: str = ENDPOINTS, timeout: float = TIMEOUT,
           prefix: bool = typer.Option(False, "--prefix", help="All keys starting with KEY."),
           output: Output = OUTPUT_OPTION) -> None:
    """Delete a key or a prefix.

    Example: skiff store del /config --prefix
    """
    end = prefix_end(key.encode()) if prefix else b""
    with _client(endpoints, timeout) as c:
        res = _do(lambda: c.delete(key.encode(), end))
    emit({"deleted": res.deleted, "revision": res.revision}, output)


def watch(key: str, endpoints: str = ENDPOINTS,
          prefix: bool = typer.Option(False, "--prefix", help="All keys starting with KEY."),
          rev: int = typer.Option(0, "--rev", help="Start from this revision (0: from now)."),
          seconds: float = typer.Option(0, "--seconds", help="Stop after this long (0: until Ctrl-C)."),
          output: Output = OUTPUT_OPTION) -> None:
    """Print changes to a key or prefix as they happen; resumes across member failures.

    Example: skiff store watch /config --prefix --rev 1 -o json
    """
    import json

    end = prefix_end(key.encode()) if prefix else b""
    deadline = time.monotonic() + seconds if seconds else None
    with _client(endpoints, 5.0) as c:
        try:
            for ev in c.watch(key.encode(), end, start_revision=rev, deadline=deadline):
                row = {"type": ev.type, "key": _text(ev.kv.key), "value": _text(ev.kv.value),
                       "revision": ev.revision}
                if output == Output.table:
                    print(f"{ev.revision}\t{ev.type}\t{row['key']}\t{row['value']}", flush=True)
                elif output == Output.yaml:
                    sys.stdout.write("---\n" + yaml.safe_dump(row, sort_keys=False))
                    sys.stdout.flush()
                else:
                    sys.stdout.write(json.dumps(row) + "\n")
                    sys.stdout.flush()
        except StoreError as err:
            fail(err.message)
        except KeyboardInterrupt:
            pass


def status(endpoints: str = ENDPOINTS,
           timeout: float = typer.Option(2.0, "--timeout", help="Per-member deadline, seconds."),
           output: Output = OUTPUT_OPTION) -> None:
    """Show each member: name, leader or not, term, revision, raft index, applied index, size.

    Example: skiff store status --endpoints 127.0.1.1:2379,127.0.1.2:2379,127.0.1.3:2379
    """
    rows = _status_rows(endpoints, timeout, star=output == Output.table)
    emit(rows, output, ["endpoint", "name", "leader", "term", "revision", "raft_index",
                        "applied_index", "db_size", "error"])
    if all(r.get("error") for r in rows):
        raise typer.Exit(1)


def _status_rows(endpoints: str, timeout: float, star: bool) -> list[dict[str, Any]]:
    """One row per endpoint; an unreachable member has a non-empty `error` (and name `?`)."""
    rows: list[dict[str, Any]] = []
    with _client(endpoints, timeout) as c:
        try:
            names = {m["id"]: m["name"] for m in c.member_list()}
        except StoreError:
            names = {}
        for ep in c.endpoints:
            try:
                st = c.status(ep)
            except StoreError as err:
                rows.append({"endpoint": ep.removeprefix("http://"), "name": "?", "leader": "",
                             "error": err.message})
                continue
            is_leader = st["leader"] == st["member_id"] and st["leader"] != 0
            rows.append({"endpoint": ep.removeprefix("http://"),
                         "name": names.get(st["member_id"], str(st["member_id"])),
                         "leader": ("*" if is_leader else "") if star else is_leader,
                         "term": st["term"], "revision": st["revision"], "raft_index": st["raft_index"],
                         "applied_index": st["applied_index"], "db_size": st["db_size"],
                         "error": ", ".join(st["errors"])})
    return rows


def members(endpoints: str = ENDPOINTS, timeout: float = TIMEOUT, output: Output = OUTPUT_OPTION) -> None:
    """List the store's members.

    Example: skiff store members -o yaml
    """
    with _client(endpoints, timeout) as c:
        rows = _do(c.member_list)
    emit([{**m, "id": str(m["id"]), "peer_urls": ",".join(m["peer_urls"]),
           "client_urls": ",".join(m["client_urls"])} for m in rows] if output == Output.table else rows,
         output, ["id", "name", "peer_urls", "client_urls"])


def compact(revision: int, endpoints: str = ENDPOINTS, timeout: float = TIMEOUT,
            output: Output = OUTPUT_OPTION) -> None:
    """Forget history before REVISION (older reads and watches answer 'compacted').

    Example: skiff store compact 1200
    """
    with _client(endpoints, timeout) as c:
        rev = _do(lambda: c.compact(revision))
    emit({"compacted": revision, "revision": rev}, output)


@member_app.command("add")
def member_add(name: str,
               peer_addr: str = typer.Option(..., "--peer-addr",
                                             help="The new member's HOST:PORT for peers."),
               client_addr: str = typer.Option("", "--client-addr",
                                               help="The new member's HOST:PORT for clients."),
               endpoints: str = ENDPOINTS, output: Output = OUTPUT_OPTION) -> None:
    """Add a member; then start it with the full --initial-cluster (old members + it).

    Example: skiff store member add m4 --peer-addr 127.0.1.4:2380 --client-addr 127.0.1.4:2379
    """
    with _client(endpoints, 15.0) as c:
        m = _do(lambda: c.member_add(peer_addr, name=name, client=client_addr or None))
    emit({**m, "id": str(m["id"])}, output)


@member_app.command("remove")
def member_remove(name: str, endpoints: str = ENDPOINTS, output: Output = OUTPUT_OPTION) -> None:
    """Remove a member by name (then stop its process).

    Example: skiff store member remove m4
    """
    with _client(endpoints, 15.0) as c:
        found = [m for m in _do(c.member_list) if m["name"] == name]
        if not found:
            fail(f"no member named {name!r}")
        _do(lambda: c.member_remove(found[0]["id"]))
    emit({"removed": name}, output)


def _do(fn: Callable[[], T]) -> T:
    """Run a client call; a StoreError becomes a one-line message and exit code 1."""
    try:
        return fn()
    except StoreError as err:
        fail(err.message)



COMMANDS: list[tuple[str, Callable[..., Any]]] = [
    ("put", put), ("get", get), ("del", delete), ("watch", watch), ("status", status),
    ("members", members), ("compact", compact)]


@member_app.command("check-remove")
def member_check_remove(name: str, endpoints: str = ENDPOINTS,
                        timeout: float = typer.Option(2.0, "--timeout", help="Per-member deadline, seconds."),
                        output: Output = OUTPUT_OPTION) -> None:
    """Say whether removing member NAME keeps the store's quorum (exit 0) or would lose it
    (exit 1, with the reason); changes nothing.  The voters are the store's member list;
    a member is healthy when its endpoint (one of `--endpoints`) answers its status.

    Example: skiff store member check-remove m3 --endpoints 10.0.0.11:2379,10.0.0.12:2379,10.0.0.13:2379
    """
    verdict = quorum.removal(_member_health(endpoints, timeout), name)
    if output != Output.table:
        emit({"member": name, "ok": verdict.ok, "remaining": verdict.remaining,
              "healthyOthers": verdict.healthy_others, "needed": verdict.needed, "reason": verdict.reason},
             output)
    if not verdict.ok:
        fail(f"refusing to remove member {name}: the store would lose its quorum ({verdict.reason})")
    if output == Output.table:
        print(f"removing member {name} keeps the quorum ({verdict.reason})")


def _member_health(endpoints: str, timeout: float) -> list[quorum.MemberHealth]:
    """Every voting member with its health; without a member list (no member answers),
    one unhealthy row per endpoint, which refuses any removal."""
    rows = _status_rows(endpoints, timeout, star=False)
    healthy = {str(r["name"]) for r in rows if not r["error"]}
    try:
        with _client(endpoints, timeout) as c:
            names = [str(m["name"]) for m in c.member_list()]
    except StoreError:
        return [quorum.MemberHealth(str(r["name"]), False) for r in rows]
    return [quorum.MemberHealth(n, n in healthy) for n in names]
