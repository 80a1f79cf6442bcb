"""Provisioning's errors: each message is one line an operator can act on.

`ProvisionError` is the base; the CLI prints its message and exits 1.
"""

from __future__ import annotations


class ProvisionError(Exception):
    """Provisioning could not go on; the message says why and what to do."""


class RemoteError(ProvisionError):
    """The host cannot be reached, refused us, or a command failed; the message says which."""


class JoinError(ProvisionError):
    """A node could not join (its host is not ready for Skiff, or the cluster refused it)."""


class WheelhouseError(ProvisionError):
    """The wheelhouse (Skiff and its dependencies as wheels) could not be built."""
