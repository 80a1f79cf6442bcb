"""Keys, sshd configs and the command that starts a lab host's sshd inside its network
namespace with a private mount and UTS namespace.

Inside a host: its own hostname; `/opt`, `/etc/skiff`, `/var/lib/skiff`,
`/var/log/skiff` and `/root` are bind mounts of the host's directories; `/run` is a
private tmpfs (sshd needs `/run/sshd`).  Sessions sshd spawns inherit all of it.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from control_plane.devtools.lab.netns import LabError

PRIVATE_DIRS = {
    "opt": "/opt",
    "etc-skiff": "/etc/skiff",
    "var-lib-skiff": "/var/lib/skiff",
    "var-log-skiff": "/var/log/skiff",
    "root": "/root",
}


def keygen(path: Path, comment: str) -> None:
    """An ed25519 key pair at `path` (kept if it exists)."""
    if path.exists():
        return
    done = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise LabError(f"ssh-keygen {path}: {done.stderr.strip()}")


def config(home: Path, address: str) -> str:
    return "\n".join(
        [
            f"ListenAddress {address}",
            "Port 22",
            f"HostKey {home / 'ssh_host_ed25519_key'}",
            "PidFile none",
            "UsePAM no",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "AuthorizedKeysFile /root/.ssh/authorized_keys",
            "StrictModes no",
            "Subsystem sftp internal-sftp",
            "UseDNS no",
            "ClientAliveInterval 10",
            "MaxStartups 50:30:100",
            "MaxSessions 50",
            "",
        ]
    )


def command(ns: str, hostname: str, home: Path) -> list[str]:
    """argv: sshd in `ns`, in new mount and UTS namespaces, with the private mounts."""
    steps = [f"hostname {shlex.quote(hostname)}"]
    for sub, target in PRIVATE_DIRS.items():
        steps += [f"mkdir -p {target}", f"mount --bind {shlex.quote(str(home / sub))} {target}"]
    steps += [
        "mount -t tmpfs -o mode=755 tmpfs /run",
        "mkdir -p /run/sshd",
        f"exec /usr/sbin/sshd -D -e -f {shlex.quote(str(home / 'sshd_config'))}",
    ]
    return [
        "ip",
        "netns",
        "exec",
        ns,
        "unshare",
        "--mount",
        "--uts",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        " && ".join(steps),
    ]
