"""The root `--config` option, read by every command that talks to the API server."""

from __future__ import annotations

import typer

from control_plane.cli.output import fail
from control_plane.client.config import ClientConfig, ConfigError, load


def api_config(ctx: typer.Context) -> ClientConfig:
    """The client config chosen by `skiff --config`, SKIFF_CONFIG or ~/.skiff/config;
    exits with a one-line error when it is missing or wrong."""
    root = ctx.find_root()
    explicit = (root.obj or {}).get("config") if isinstance(root.obj, dict) else None
    try:
        return load(explicit)
    except ConfigError as err:
        fail(err.message)
