"""Cluster assets made on the controller for a cluster of real hosts: the CA, each host's
certificates, the admin and bootstrap tokens and the store's peer secret.

Ansible (`site.yml`, `join.yml`) and `skiff node join` make them with
`skiff cluster assets` and copy each host its share.  Layout under the assets directory:

    pki/ca.crt, pki/ca.key          the cluster CA (the key never leaves the controller)
    admin.token, bootstrap.token    bearer tokens (mode 0600)
    store.secret                    the store members' shared peer secret
    hosts/<name>/agent.{crt,key}    each host's agent serving certificate
    hosts/<name>/apiserver.{crt,key} each master's API server certificate

Contract: `ensure()` is idempotent: it creates what is missing and re-issues a host's
certificate only when its addresses changed; it returns what it wrote, so a second run
with the same hosts returns nothing (Ansible reports `changed=0`).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from control_plane.apiserver.authn import new_token
from control_plane.provision.pki import create_ca, issue_server_cert


@dataclass(frozen=True)
class HostSpec:
    name: str
    address: str
    role: str  # master | node


def parse_hosts(specs: list[str], role: str) -> list[HostSpec]:
    """`name=address` items; raises ValueError with the offending item."""
    hosts = []
    for spec in specs:
        name, sep, address = spec.partition("=")
        if not sep or not name or not address:
            raise ValueError(f"{spec!r}: give NAME=ADDRESS, e.g. m1=10.0.0.1")
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"{spec!r}: {address!r} is not an IP address") from None
        hosts.append(HostSpec(name, address, role))
    return hosts


class Assets:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.pki = self.root / "pki"

    @property
    def ca(self) -> Path:
        return self.pki / "ca.crt"

    def host_dir(self, name: str) -> Path:
        return self.root / "hosts" / name

    def ensure(self, hosts: list[HostSpec]) -> list[str]:
        """Create what is missing for `hosts`; return the paths written (relative)."""
        written: list[str] = []
        if not self.ca.exists():
            create_ca(self.pki)
            written.append("pki/ca.crt")
        for name in ("admin.token", "bootstrap.token"):
            if _write_new(self.root / name, new_token()):
                written.append(name)
        if _write_new(self.root / "store.secret", secrets.token_hex(32)):
            written.append("store.secret")
        for host in hosts:
            certs = [("agent", [host.address, host.name])]
            if host.role == "master":
                certs.append(("apiserver", [host.address, host.name, "localhost"]))
            for cert_name, sans in certs:
                crt = self.host_dir(host.name) / f"{cert_name}.crt"
                if not _covers(crt, sans):
                    issue_server_cert(self.pki, self.host_dir(host.name), cert_name, sans)
                    written.append(str(crt.relative_to(self.root)))
        return written


def _write_new(path: Path, text: str) -> bool:
    """Write `text` to a new private file; False (untouched) if it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    return True


def _covers(crt: Path, sans: list[str]) -> bool:
    """The certificate exists, has its key, and names exactly `sans`."""
    if not crt.exists() or not crt.with_suffix(".key").exists():
        return False
    try:
        ext = x509.load_pem_x509_certificate(crt.read_bytes()).extensions.get_extension_for_class(
            x509.SubjectAlternativeName)
    except (ValueError, x509.ExtensionNotFound):
        return False
    named = {str(ip) for ip in ext.value.get_values_for_type(x509.IPAddress)}
    named |= set(ext.value.get_values_for_type(x509.DNSName))
    return named == set(sans)
