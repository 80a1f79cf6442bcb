"""Thin, checked wrappers over `ip` and `nft` for the lab's namespaces and links.

Every command has a deadline and raises `LabError` with its stderr when it fails; the
`*_if_exists` variants are idempotent (for clean-up)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

TIMEOUT = 20.0


class LabError(Exception):
    """A lab operation failed; the message says which command and why."""


def run(argv: Sequence[str], check: bool = True, netns: str | None = None) -> str:
    full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    try:
        done = subprocess.run(full, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise LabError(f"{' '.join(full)}: {err}") from None
    if check and done.returncode != 0:
        raise LabError(f"{' '.join(full)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def namespaces() -> set[str]:
    return {line.split()[0] for line in run(["ip", "netns", "list"]).splitlines() if line.strip()}


def links() -> set[str]:
    out = run(["ip", "-o", "link", "show"])
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


def pids(ns: str) -> list[int]:
    """PIDs of the processes in network namespace `ns` (by namespace, never by name)."""
    out = run(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in out.split() if p.isdigit()]


def create_bridge(bridge: str, address: str) -> None:
    run(["ip", "link", "add", bridge, "type", "bridge"])
    run(["ip", "addr", "add", address, "dev", bridge])
    run(["ip", "link", "set", bridge, "up"])


def create_host_link(ns: str, bridge: str, host_end: str, peer: str, address: str) -> None:
    """A namespace with a veth into `bridge`; inside it `eth0` with `address` and `lo` up.
    No default route: nothing can leave the machine."""
    run(["ip", "netns", "add", ns])
    run(["ip", "link", "add", host_end, "type", "veth", "peer", "name", peer])
    run(["ip", "link", "set", host_end, "master", bridge])
    run(["ip", "link", "set", host_end, "up"])
    run(["ip", "link", "set", peer, "netns", ns])
    run(["ip", "link", "set", peer, "name", "eth0"], netns=ns)
    run(["ip", "addr", "add", address, "dev", "eth0"], netns=ns)
    run(["ip", "link", "set", "eth0", "up"], netns=ns)
    run(["ip", "link", "set", "lo", "up"], netns=ns)


def delete_namespace_if_exists(ns: str) -> None:
    if ns in namespaces():
        run(["ip", "netns", "del", ns])


def delete_link_if_exists(link: str) -> None:
    """Idempotent.  A host's veth goes away on its own when its namespace is deleted, a
    moment later: a link that vanishes between the check and the delete is not an error."""
    if link in links():
        run(["ip", "link", "del", link], check=False)
        if link in links():
            run(["ip", "link", "del", link])


def block(ns: str | None, peers: list[str]) -> None:
    """Drop all traffic between namespace `ns` (None: the one this process is in) and
    `peers` (IPv4 addresses)."""
    heal(ns)
    rules = [
        "add table inet skifflab",
        "add chain inet skifflab in { type filter hook input priority 0 ; policy accept ; }",
        "add chain inet skifflab out { type filter hook output priority 0 ; policy accept ; }",
    ]
    for peer in peers:
        rules += [
            f"add rule inet skifflab in ip saddr {peer} drop",
            f"add rule inet skifflab out ip daddr {peer} drop",
        ]
    for rule in rules:
        run(["nft", *rule.split()], netns=ns)


def heal(ns: str | None) -> None:
    run(["nft", "delete", "table", "inet", "skifflab"], check=False, netns=ns)
