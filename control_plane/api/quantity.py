"""Kubernetes resource quantities: "500m" CPU, "128Mi" memory, "1.5", "2G"."""

from __future__ import annotations

import re
from decimal import Decimal, DecimalException

_SUFFIX = {
    "": Decimal(1), "m": Decimal("0.001"), "k": Decimal(10) ** 3, "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9, "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}
# Kubernetes keeps a quantity in an int64 of milli-units at worst: anything larger is refused
# here, so every reader can multiply by 1000 and convert to int without overflow.
MAX_QUANTITY = Decimal(2**63 - 1) / 1000
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
        too_large = amount > MAX_QUANTITY
    except DecimalException:  # an exponent beyond Decimal's range: too large, or too small
        raise ValueError(f"quantity out of range, got {text!r}") from None
    if too_large:
        raise ValueError(f"quantity too large (at most {MAX_QUANTITY:.3e}), got {text!r}")
    if amount < 0:
        raise ValueError(f"quantity must not be negative, got {text!r}")
    return amount


def cpu_millis(value: object) -> int:
    """Thousandths of a core (`500m` -> 500); a fraction of a milli-core rounds down."""
    return int(parse_quantity(value) * 1000)


def memory_bytes(value: object) -> int:
    return int(parse_quantity(value))
