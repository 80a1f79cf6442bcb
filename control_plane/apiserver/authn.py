"""Authentication: who is asking (bearer tokens, stored hashed).  What they may do is
`authz.py`.  `TokenStore` faces the store: a store failure becomes an `ApiError` here.

Tokens look like Kubernetes bootstrap tokens, `<id>.<secret>` (6 + 16 characters of
[a-z0-9]).  The store keeps only sha256(secret) under `/registry/skiff.io/tokens/<id>`
with a role: `admin` (everything), `viewer` (read only), `node` (its own Node and
Lease, pods bound to it, events; reads), `bootstrap` (may only exchange itself for a
node credential, until it expires).  Lookups are cached for CACHE_SECONDS, so a
deleted token stops working within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from control_plane.apiserver.errors import ApiError, from_store
from raftstore.client import StoreClient
from raftstore.errors import StoreError

TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16,64})$")
ROLES = ("admin", "viewer", "node", "bootstrap")
PREFIX = b"/registry/skiff.io/tokens/"
CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class Identity:
    token_id: str
    role: str
    node: str | None = None

    @property
    def name(self) -> str:
        return f"system:node:{self.node}" if self.role == "node" else f"{self.role}:{self.token_id}"


def new_token() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(6)) + "." + "".join(
        secrets.choice(alphabet) for _ in range(16))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def unauthorized(message: str = "Unauthorized") -> ApiError:
    return ApiError(401, "Unauthorized", message)


class TokenStore:
    """Tokens in the store; thread-safe."""

    def __init__(self, client: StoreClient) -> None:
        self.client = client
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def put(self, token: str, role: str, node: str | None = None, ttl: float | None = None) -> None:
        """Store `token` (idempotent for the same token)."""
        m = TOKEN.match(token)
        if m is None or role not in ROLES:
            raise ValueError("a token is <6 chars>.<16+ chars> of [a-z0-9], with a known role")
        record = {"hash": _hash(m.group(2)), "role": role, "node": node,
                  "expires": time.time() + ttl if ttl else None}
        try:
            self.client.put(PREFIX + m.group(1).encode(), json.dumps(record).encode())
        except StoreError as err:
            raise from_store(err) from None

    def authenticate(self, header: str | None) -> Identity:
        if not header or not header.startswith("Bearer "):
            raise unauthorized("a bearer token is required (Authorization: Bearer <token>)")
        m = TOKEN.match(header[7:].strip())
        if m is None:
            raise unauthorized("the bearer token is malformed")
        token_id, secret = m.groups()
        record = self._lookup(token_id)
        if record is None or not hmac.compare_digest(record["hash"], _hash(secret)):
            raise unauthorized("the bearer token is not valid")
        if record.get("expires") and record["expires"] < time.time():
            raise unauthorized("the bearer token has expired")
        return Identity(token_id, record["role"], record.get("node"))

    def _lookup(self, token_id: str) -> dict[str, Any] | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(token_id)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        try:
            found = self.client.get(PREFIX + token_id.encode())
        except StoreError as err:
            raise from_store(err) from None
        record = json.loads(found.kvs[0].value) if found.kvs else None
        with self._lock:
            self._cache[token_id] = (now, record)
        return record
