"""Kubernetes resource quantities: "500m" CPU, "128Mi" memory, "1.5", "2G"."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIX = {
    "": Decimal(1), "m": Decimal("0.001"), "k": Decimal(10) ** 3, "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9, "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}
_RE = re.compile(r"^([+-]?[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def parse_quantity(value: object) -> Decimal:
    """The quantity in base units (cores, bytes); ValueError with a clear message."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"quantity must be a string or a number, got {type(value).__name__}")
    text = str(value).strip()
    m = _RE.match(text)
    if m is None:
        raise ValueError(f'quantities must match the regular expression (e.g. "500m", "128Mi"), got {text!r}')
    try:
        amount = Decimal(m.group(1)) * _SUFFIX[m.group(2) or ""]
    except InvalidOperation:
        raise ValueError(f"invalid quantity {text!r}") from None
    if amount < 0:
        raise ValueError(f"quantity must not be negative, got {text!r}")
    return amount


def cpu_millis(value: object) -> int:
    return int(parse_quantity(value) * 1000)


def memory_bytes(value: object) -> int:
    return int(parse_quantity(value))
