"""Numbers for people: kubectl's ages ("5m30s", "3d4h"), percentages, quantities."""

from __future__ import annotations

from decimal import Decimal

from control_plane.api.quantity import parse_quantity
from control_plane.client.clock import parse_rfc3339

UNKNOWN = "<unknown>"
_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))


def duration(seconds: float) -> str:
    """A short human duration, with kubectl's rounding rules (`duration.HumanDuration`)."""
    if seconds < -1:
        return "<invalid>"
    s = max(0, int(seconds))
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def age(timestamp: str | None, now: float) -> str:
    """Time since an RFC 3339 timestamp, or `<unknown>`."""
    then = parse_rfc3339(timestamp)
    return UNKNOWN if then is None else duration(now - then)


def percent(fraction: object) -> str:
    """`0.253` -> `25%`; anything that is not a number -> `<unknown>`."""
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        return UNKNOWN
    return f"{round(fraction * 100)}%"


def cores(value: object) -> str:
    """A CPU quantity as kubectl prints it: whole cores as `4`, else millicores `500m`."""
    try:
        amount = parse_quantity(value)
    except ValueError:
        return UNKNOWN
    return cores_of(amount)


def cores_of(amount: Decimal) -> str:
    """Cores as `4` or `1500m`."""
    millis = int(amount * 1000)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def memory(value: object) -> str:
    """A memory quantity in the largest binary unit that keeps it >= 1 (`8Gi`, `1.5Gi`)."""
    try:
        amount = int(parse_quantity(value))
    except ValueError:
        return UNKNOWN
    return bytes_text(amount)


def bytes_text(amount: int) -> str:
    for suffix, size in _BINARY:
        if amount >= size:
            scaled = amount / size
            text = f"{scaled:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return str(amount)
