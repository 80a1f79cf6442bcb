"""What a test needs from the machine, said once: in CI (root, `CI=true`, where
`make test` installs and starts everything) a missing need is a failure, never a quiet
skip; elsewhere the test skips and says why."""

from __future__ import annotations

import os

import pytest


def strict() -> bool:
    """CI as root: every need must be met."""
    return os.environ.get("CI") == "true" and os.geteuid() == 0


def need(met: bool, reason: str) -> None:
    """Skip (or, in CI as root, fail) the calling test unless `met`."""
    if met:
        return
    if strict():
        pytest.fail(f"{reason} (CI runs as root and must provide this)")
    pytest.skip(reason)
