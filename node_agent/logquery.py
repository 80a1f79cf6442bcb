"""A log request to the agent: the path names (namespace, pod, container) and the query
(`follow`, `previous`, `timestamps`, `tailLines`, `sinceSeconds`), parsed strictly; a bad
one is an `HttpError` that becomes a Kubernetes Status body.  Pure."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,251}[A-Za-z0-9])?$")
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 500: "InternalError", 503: "ServiceUnavailable"}


class HttpError(Exception):
    """An answer other than the logs; becomes a Kubernetes Status body."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self) -> bytes:
        return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": self.message, "reason": REASONS.get(self.code, "Unknown"),
                           "code": self.code}).encode()


@dataclass(frozen=True)
class LogQuery:
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None  # validated, ignored


def parse_target(path: str) -> tuple[str, str, str]:
    """(namespace, pod, container) of `/containerLogs/ns/pod/container`; 404 for another
    path, 400 for a segment that is not a valid name."""
    parts = path.split("/")
    if len(parts) != 5 or parts[:2] != ["", "containerLogs"]:
        raise HttpError(404, "the server could not find the requested resource")
    names = [unquote(p) for p in parts[2:]]
    for name in names:
        if not NAME.match(name):
            raise HttpError(400, f"invalid name {name!r} in the path")
    return names[0], names[1], names[2]


def parse_query(query: str) -> LogQuery:
    """The log options of a query string (last value wins; unknown keys are ignored); 400
    naming the parameter for a bad value."""
    values = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    flags: dict[str, bool] = {}
    for key in ("follow", "previous", "timestamps"):
        raw = values.get(key, "false").lower()
        if raw not in BOOLEANS:
            raise HttpError(400, f"{key} must be true or false, not {values[key]!r}")
        flags[key] = BOOLEANS[raw]
    numbers: dict[str, int | None] = {}
    for key in ("tailLines", "sinceSeconds"):
        text = values.get(key)
        if text is not None and not (text.isascii() and text.isdigit()):
            raise HttpError(400, f"{key} must be a non-negative integer, not {text!r}")
        numbers[key] = int(text) if text is not None else None
    return LogQuery(flags["follow"], flags["previous"], flags["timestamps"], numbers["tailLines"],
                    numbers["sinceSeconds"])
