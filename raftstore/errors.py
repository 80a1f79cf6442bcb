"""Store errors, with the gRPC codes and messages etcd uses for the same situations.

The pure state machine never raises: it *returns* `StoreError.to_dict()` payloads (a
raising replicated method wedges every pysyncobj replica).  The HTTP layer turns them
into etcd-gateway error bodies, and the client turns those back into these classes.
"""

from __future__ import annotations

from typing import Any

# gRPC status codes (the etcd JSON gateway reports them in the body's "code").
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14

# HTTP status the grpc-gateway uses for each code.
HTTP_STATUS = {
    INVALID_ARGUMENT: 400,
    DEADLINE_EXCEEDED: 504,
    NOT_FOUND: 404,
    ALREADY_EXISTS: 409,
    RESOURCE_EXHAUSTED: 429,
    FAILED_PRECONDITION: 400,
    OUT_OF_RANGE: 400,
    UNIMPLEMENTED: 501,
    INTERNAL: 500,
    UNAVAILABLE: 503,
}

MSG_COMPACTED = "etcdserver: mvcc: required revision has been compacted"
MSG_FUTURE_REV = "etcdserver: mvcc: required revision is a future revision"
MSG_LEASE_NOT_FOUND = "etcdserver: requested lease not found"
MSG_LEASE_EXISTS = "etcdserver: lease already exists"
MSG_TOO_MANY_OPS = "etcdserver: too many operations in txn request"
MSG_DUPLICATE_KEY = "etcdserver: duplicate key given in txn request"
MSG_REQUEST_TOO_LARGE = "etcdserver: request is too large"
MSG_KEY_EMPTY = "etcdserver: key is not provided"
MSG_NO_LEADER = "etcdserver: no leader"
MSG_TIMEOUT = "etcdserver: request timed out"
MSG_UNKNOWN_OUTCOME = "etcdserver: request timed out, possibly due to previous leader failure"


class StoreError(Exception):
    """An error with an etcd-compatible gRPC code and message."""

    code: int = INTERNAL

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)

    def to_dict(self) -> dict[str, Any]:
        """The payload a replicated method returns instead of raising."""
        return {"error": {"code": self.code, "message": self.message}}

    @staticmethod
    def from_code(code: int, message: str) -> StoreError:
        """Rebuild the most specific error class for a code and message."""
        if message == MSG_COMPACTED:
            return CompactedError(message)
        if message in (MSG_UNKNOWN_OUTCOME, MSG_TIMEOUT):
            return UnknownOutcome(message, code)
        cls = _BY_CODE.get(code, StoreError)
        return cls(message, code)


class InvalidArgument(StoreError):
    code = INVALID_ARGUMENT


class NotFound(StoreError):
    code = NOT_FOUND


class AlreadyExists(StoreError):
    code = ALREADY_EXISTS


class CompactedError(StoreError):
    """The requested revision is older than the retained history."""

    code = OUT_OF_RANGE

    def __init__(self, message: str = MSG_COMPACTED, code: int | None = None,
                 compact_revision: int = 0) -> None:
        super().__init__(message, code)
        self.compact_revision = compact_revision


class FutureRevision(StoreError):
    code = OUT_OF_RANGE


class Unavailable(StoreError):
    """No leader, member stopping, or the request could not be proposed: safe to retry."""

    code = UNAVAILABLE


class UnknownOutcome(StoreError):
    """The write may or may not have been applied; retry with the same request id."""

    code = UNAVAILABLE


class DeadlineExceeded(StoreError):
    code = DEADLINE_EXCEEDED


class TooLarge(StoreError):
    code = RESOURCE_EXHAUSTED


_BY_CODE: dict[int, type[StoreError]] = {
    INVALID_ARGUMENT: InvalidArgument,
    NOT_FOUND: NotFound,
    ALREADY_EXISTS: AlreadyExists,
    UNAVAILABLE: Unavailable,
    DEADLINE_EXCEEDED: DeadlineExceeded,
    RESOURCE_EXHAUSTED: TooLarge,
}


def error_payload(result: Any) -> StoreError | None:
    """Return the StoreError carried by a state-machine result, or None for success."""
    if isinstance(result, dict) and "error" in result:
        err = result["error"]
        return StoreError.from_code(int(err["code"]), str(err["message"]))
    return None
