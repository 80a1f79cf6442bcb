"""`Api`: the API client seam, as a Protocol — the REST verbs every component uses.

`apiclient.ApiClient` (HTTPS with failover) and `fake.FakeApiClient` (in memory, for unit
tests) both implement it, and mypy checks that they do.  Components that need only these
verbs take an `Api`; the CLI and the agent's plumbing, which need more (streams of text,
probes, a new token), take the concrete `ApiClient`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

from control_plane.api.objects import Obj


class Api(Protocol):
    def get(self, path: str, params: dict[str, str] | None = None, timeout: float | None = None) -> Obj:
        """The object at `path`; `StatusError` 404 when there is none."""

    def list(self, path: str, label: str | None = None, field: str | None = None) -> Obj:
        """The collection at `path` (a List with `metadata.resourceVersion`)."""

    def create(self, path: str, obj: Obj) -> Obj:
        """POST; 409 AlreadyExists for a taken name."""

    def replace(self, path: str, obj: Obj) -> Obj:
        """PUT; with `metadata.resourceVersion`, a compare-and-set (409 Conflict when stale)."""

    def patch(self, path: str, body: Any, json_patch: bool = False) -> Obj:
        """PATCH, a merge patch unless `json_patch`."""

    def delete(self, path: str, grace: int | None = None) -> Obj:
        """DELETE, with `gracePeriodSeconds` when `grace` is given."""

    def watch(self, path: str, resource_version: str | None, timeout_seconds: int = 300,
              label: str | None = None, field: str | None = None) -> Generator[Obj, None, None]:
        """Events (`{"type", "object"}`) after `resource_version`, until the server ends
        the stream; 410 when the version is compacted."""

    def close(self) -> None:
        """Release connections; open watches end."""
