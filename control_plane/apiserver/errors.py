"""API errors as Kubernetes `Status` objects.

Handlers raise `ApiError`; the app turns it into the Status body and HTTP code.  Store
errors are translated here, at the boundary (`from_store`).
"""

from __future__ import annotations

from typing import Any

from raftstore import errors as store_errors


class ApiError(Exception):
    """An HTTP error with a Kubernetes reason, e.g. 404 NotFound, 409 Conflict."""

    def __init__(self, code: int, reason: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    @property
    def is_not_found(self) -> bool:
        return self.code == 404

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                "status": "Failure", "message": self.message,
                                "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


def not_found(kind: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{kind} "{name}" not found', {"name": name, "kind": kind})


def already_exists(kind: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{kind} "{name}" already exists', {"name": name, "kind": kind})


def conflict(kind: str, name: str) -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {kind} "{name}": the object has '
                    "been modified; please apply your changes to the latest version and try again",
                    {"name": name, "kind": kind})


def invalid(kind: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 naming each offending field, as Kubernetes does."""
    text = "; ".join(f"{field}: {msg}" for field, msg in causes)
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {text}',
                    {"name": name, "kind": kind,
                     "causes": [{"reason": "FieldValueInvalid", "field": f, "message": m}
                                for f, m in causes]})


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def from_store(err: store_errors.StoreError) -> ApiError:
    """Translate a store failure: compaction is 410, unavailability 503, the rest 500."""
    if isinstance(err, store_errors.CompactedError):
        return gone(f"too old resource version: {err.message}")
    if isinstance(err, store_errors.Unavailable | store_errors.DeadlineExceeded):
        return ApiError(503, "ServiceUnavailable", f"the cluster store is unavailable: {err.message}")
    if isinstance(err, store_errors.TooLarge):
        return ApiError(413, "RequestEntityTooLarge", err.message)
    return ApiError(500, "InternalError", f"store error: {err.message}")
