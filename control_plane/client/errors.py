"""Client-side errors: a Kubernetes Status from the server, or no server reachable."""

from __future__ import annotations

from typing import Any


class ApiClientError(Exception):
    """Base of every error the API client raises; `message` is one readable line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StatusError(ApiClientError):
    """The server answered with a Kubernetes Status (4xx/5xx)."""

    def __init__(self, code: int, reason: str, message: str, status: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.status = status or {}

    @property
    def causes(self) -> list[dict[str, Any]]:
        return list((self.status.get("details") or {}).get("causes") or [])


class Unreachable(ApiClientError):
    """No API server answered before the deadline (every URL was tried)."""


class OutcomeUnknown(ApiClientError):
    """A write was sent but its answer was lost: it may or may not have happened."""


def is_not_found(err: BaseException) -> bool:
    """The server said 404 NotFound (apimachinery's `errors.IsNotFound`)."""
    return isinstance(err, StatusError) and err.code == 404


def is_conflict(err: BaseException) -> bool:
    """The server said 409 Conflict: a stale resourceVersion or an existing name."""
    return isinstance(err, StatusError) and err.code == 409
