"""Names and labels: DNS-1123 labels and subdomains for object names, qualified names and
values for labels (Kubernetes' apimachinery/pkg/util/validation).  Each check appends
`(field, message)` causes; none raises."""

from __future__ import annotations

import re
from typing import Any

Causes = list[tuple[str, str]]

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def check_label_key(key: str) -> bool:
    """A qualified name: an optional DNS-subdomain prefix and `/`, then a name of at most
    63 characters (alphanumerics, `-`, `_`, `.`; alphanumeric at both ends)."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(name) <= 63 and LABEL_NAME.match(name) is not None


def check_name(name: Any, field: str, label: bool, causes: Causes) -> None:
    if not isinstance(name, str) or not name:
        causes.append((field, "Required value: a name is required"))
        return
    limit, pattern = (63, DNS_LABEL) if label else (253, DNS_SUBDOMAIN)
    if len(name) > limit or not pattern.match(name):
        what = "RFC 1123 label" if label else "RFC 1123 subdomain"
        chars = "'-'" if label else "'-' or '.'"
        causes.append((field, f'Invalid value: "{name}": a lowercase {what} must consist of lower case '
                              f"alphanumeric characters, {chars}, start and end with an alphanumeric "
                              f"character, and be at most {limit} characters"))


def check_labels(labels: Any, field: str, causes: Causes) -> None:
    if labels is None:
        return
    if not isinstance(labels, dict):
        causes.append((field, "Invalid value: must be a map of strings"))
        return
    for key, value in labels.items():
        if not isinstance(key, str) or not check_label_key(key):
            causes.append((f"{field}[{key}]", "Invalid value: not a valid label key"))
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            causes.append((f"{field}[{key}]", f"Invalid value: {value!r}: not a valid label value"))
