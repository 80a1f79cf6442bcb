"""Validation of a command's fields before the state machine applies it: a wrong type
or a missing field is an `InvalidArgument`, never a partial write.  Pure."""

from __future__ import annotations

import math
from typing import Any

from raftstore import errors as e

Cmd = dict[str, Any]


def need_bytes(cmd: Cmd, field: str, required: bool = False) -> bytes:
    """The bytes field of a command (b"" when absent and optional)."""
    if required and field not in cmd:
        raise e.InvalidArgument(f"field {field!r} is required")
    value = cmd.get(field, b"")
    if not isinstance(value, bytes):
        raise e.InvalidArgument(f"field {field!r}: expected bytes")
    return value


def need_int(cmd: Cmd, field: str, required: bool = False) -> int:
    """The integer field of a command (0 when absent and optional); booleans are refused."""
    if required and field not in cmd:
        raise e.InvalidArgument(f"field {field!r} is required")
    value = cmd.get(field, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise e.InvalidArgument(f"field {field!r}: expected an integer")
    return value


def need_time(cmd: Cmd, field: str) -> float:
    """A finite number of seconds stamped into the command by its proposer."""
    value = cmd.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise e.InvalidArgument(f"field {field!r}: expected a finite number")
    return value
