"""`skiff store ...` end to end, as an operator types it: `local up`, the etcdctl verbs
against the members it started (put, get, del, watch, compact, status, members, member
add/remove/check-remove), and `local down`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import yaml

from control_plane.devtools import procs
from tests.integration.conftest import next_subnet

SKIFF = [sys.executable, "-m", "control_plane.cli.main", "store"]


def store(*args: str, ok: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*SKIFF, *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    if ok:
        assert done.returncode == 0, f"skiff store {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done


def as_json(*args: str) -> Any:
    return json.loads(store(*args, "-o", "json").stdout)


def test_local_up_verbs_and_down(tmp_path: Path) -> None:
    directory, subnet = tmp_path / "store", next_subnet()
    up = as_json("local", "up", "--dir", str(directory), "--members", "3", "--subnet", subnet)
    try:
        endpoints = ",".join(up["members"])
        assert len(up["members"]) == 3 and all(e.startswith(subnet) for e in up["members"])
        ep = ("--endpoints", endpoints)
        again = store("local", "up", "--dir", str(directory), "--subnet", subnet, ok=False)
        assert again.returncode == 1 and "already running" in again.stderr

        first = as_json("put", "/config/mode", "fast", *ep)["revision"]
        store("put", "/config/size", "3", *ep)
        got = as_json("get", "/config/mode", *ep)
        assert [(kv["key"], kv["value"]) for kv in got["kvs"]] == [("/config/mode", "fast")]
        listed = yaml.safe_load(store("get", "/config", "--prefix", "-o", "yaml", *ep).stdout)
        assert [kv["key"] for kv in listed["kvs"]] == ["/config/mode", "/config/size"]
        table = store("get", "/config", "--prefix", *ep).stdout
        assert "/config/size" in table and "MOD REVISION" in table.upper().replace("_", " ")
        assert as_json("del", "/config/size", *ep)["deleted"] == 1

        watched = store("watch", "/config", "--prefix", "--rev", str(first), "--seconds", "2", "-o", "json",
                        *ep).stdout.splitlines()
        events = [(e["type"], e["key"]) for e in map(json.loads, watched)]
        assert events == [("PUT", "/config/mode"), ("PUT", "/config/size"), ("DELETE", "/config/size")]

        current = as_json("put", "/config/mode", "slow", *ep)["revision"]
        assert as_json("compact", str(current), *ep)["compacted"] == current
        old = store("get", "/config/mode", "--rev", str(first), *ep, ok=False)
        assert old.returncode == 1 and len(old.stderr.strip().splitlines()) == 1
        assert "compacted" in old.stderr

        status = as_json("status", *ep)
        assert len(status) == 3 and sum(1 for m in status if m["leader"] is True) == 1
        assert sorted(m["name"] for m in as_json("members", *ep)) == ["m1", "m2", "m3"]

        verdict = as_json("member", "check-remove", "m3", *ep)
        assert verdict["ok"] is True and verdict["remaining"] == 2 and verdict["needed"] == 2
        added = as_json("member", "add", "m4", "--peer-addr", f"{subnet}.4:2380", *ep)
        assert added["name"] == "m4"
        assert sorted(m["name"] for m in as_json("members", *ep)) == ["m1", "m2", "m3", "m4"]
        # m4 never started: 4 voters, so removing m3 leaves 2 healthy of 3, still a majority
        grown = as_json("member", "check-remove", "m3", *ep)
        assert (grown["ok"], grown["remaining"], grown["healthyOthers"]) == (True, 3, 2)
        assert as_json("member", "remove", "m4", *ep) == {"removed": "m4"}
        assert sorted(m["name"] for m in as_json("members", *ep)) == ["m1", "m2", "m3"]
    finally:
        down = store("local", "down", "--dir", str(directory))
    assert "stopped 3 members" in down.stderr
    assert not any(procs.read(p) for p in directory.glob("*/member.pid"))
    leftovers = [p.pid for p in psutil.process_iter(["cmdline"])
                 if str(directory) in " ".join(p.info["cmdline"] or [])]
    assert leftovers == []
    assert "no running local store" in store("local", "down", "--dir", str(directory)).stderr


def test_a_member_with_a_corrupt_term_and_vote_refuses_to_start(tmp_path: Path) -> None:
    data = tmp_path / "m1"
    data.mkdir()
    (data / "raft.journal.meta").write_bytes(b"torn")
    done = store("run", "--name", "m1", "--data-dir", str(data), "--client-addr", "127.0.9.1:2379",
                 "--peer-addr", "127.0.9.1:2380", "--initial-cluster", "m1=127.0.9.1:2380", ok=False)
    assert done.returncode == 1 and "refusing to start" in done.stderr and "member remove" in done.stderr
