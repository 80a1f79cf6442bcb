"""Who may read a pod's logs from this agent: the `Authorizer` seam and `ApiAuthorizer`.

The kubelet asks the API server (TokenReview + SubjectAccessReview) before it serves
`/containerLogs`.  Skiff's API server has neither review; the same question is asked
directly instead: `ApiAuthorizer` GETs the pod from the API server *with the caller's
own token*.  The answer is the verdict:

| API answer | verdict | the log server answers |
|---|---|---|
| 200 | True | the logs |
| 401 | None (not authenticated) | 401 |
| 403, 404 | False | 403 |
| anything else, or no API server reachable | raises `AuthorizerUnavailable` | 503 |

A 404 is a refusal, not a pass: a pod the API does not know is not one this agent may
show to anyone (it may be a leftover of a deleted pod).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from control_plane.client.apiclient import ApiClient
from control_plane.client.clock import Clock, SystemClock
from control_plane.client.errors import ApiClientError, StatusError

CACHE_SECONDS = 10.0
CACHE_LIMIT = 4096  # entries; expired ones are pruned when it is reached
API_TIMEOUT = 5.0


class Authorizer(Protocol):
    def allowed(self, authorization_header: str | None, namespace: str, pod: str) -> bool | None:
        """May the bearer of `authorization_header` read the logs of `namespace/pod`?

        None: the caller is not authenticated (no, malformed or unknown token) -> 401.
        False: authenticated but not allowed -> 403.  May raise `AuthorizerUnavailable`
        when it cannot decide (-> 503).  Must be thread-safe.
        """


class AuthorizerUnavailable(Exception):
    """The authorizer could not reach a verdict (e.g. no API server answered)."""


class PodReader(Protocol):
    """What `ApiAuthorizer` needs of an API client (`ApiClient` is one)."""

    def get(self, path: str) -> dict[str, Any]: ...

    def close(self) -> None: ...


ClientFactory = Callable[[str], PodReader]
"""Makes a client that sends the given bearer token; the authorizer closes it."""


def api_client_factory(servers: list[str], ca_file: Path | None,
                       timeout: float = API_TIMEOUT) -> ClientFactory:
    """A `ClientFactory` of `ApiClient`s for `servers`, verifying them against `ca_file`."""

    def make(token: str) -> PodReader:
        return ApiClient(servers, token, ca_file, timeout=timeout, user_agent="skiff-agent/logs")

    return make


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        return None
    return token


class ApiAuthorizer:
    """An `Authorizer` that asks the API server, caching each verdict for `ttl` seconds
    per (sha256 of the token, namespace, pod).  Tokens are never kept in clear.
    Failures to decide are not cached.  Thread-safe; concurrent misses for the same key
    may each ask the API (harmless)."""

    def __init__(self, client_factory: ClientFactory, ttl: float = CACHE_SECONDS,
                 clock: Clock | None = None) -> None:
        self._factory = client_factory
        self._ttl = ttl
        self._clock: Clock = clock or SystemClock()
        self._cache: dict[tuple[str, str, str], tuple[float, bool | None]] = {}
        self._lock = threading.Lock()

    def allowed(self, authorization_header: str | None, namespace: str, pod: str) -> bool | None:
        token = bearer_token(authorization_header)
        if token is None:
            return None
        key = (hashlib.sha256(token.encode()).hexdigest(), namespace, pod)
        now = self._clock.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now < hit[0]:
            return hit[1]
        verdict = self._ask(token, namespace, pod)
        with self._lock:
            if len(self._cache) >= CACHE_LIMIT:
                self._prune(now)
            self._cache[key] = (now + self._ttl, verdict)
        return verdict

    def _ask(self, token: str, namespace: str, pod: str) -> bool | None:
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}"
        client = self._factory(token)
        try:
            client.get(path)
        except StatusError as err:
            if err.code == 401:
                return None
            if err.code in (403, 404):
                return False
            raise AuthorizerUnavailable(f"the API server answered {err.code}: {err.message}") from None
        except ApiClientError as err:
            raise AuthorizerUnavailable(err.message) from None
        finally:
            client.close()
        return True

    def _prune(self, now: float) -> None:
        """Drop expired verdicts; if none had expired, drop them all (bounded memory)."""
        for key in [k for k, (until, _) in self._cache.items() if until <= now]:
            del self._cache[key]
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
