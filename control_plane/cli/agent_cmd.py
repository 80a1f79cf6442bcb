"""`skiff agent`: run the node agent in the foreground."""

from __future__ import annotations

from pathlib import Path

import typer

from control_plane.cli.output import fail


def agent(config: Path = typer.Option(..., "--config", help="The agent's config file (YAML).")) -> None:
    """Run the node agent: joins, registers the node, heartbeats, runs its pods and
    static pods, serves their logs.  Stopping it leaves its pods running.

    Example:
      skiff agent --config /etc/skiff/agent.yaml
    """
    from control_plane import component
    from node_agent import agent as node_agent
    from node_agent.config import ConfigError, load

    component.setup_logging()
    try:
        cfg = load(config)
    except ConfigError as err:
        fail(str(err))
    node_agent.main(cfg)
