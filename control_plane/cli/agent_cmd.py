"""`skiff agent`: run the node agent in the foreground."""

from __future__ import annotations

from pathlib import Path

import typer

from control_plane.api import defaults
from control_plane.cli.output import fail


def agent(config: Path = typer.Option(..., "--config", help="The agent's config file (YAML).")) -> None:
    """Run the node agent: joins, registers the node, heartbeats, runs its pods and
    static pods, serves their logs.  Stopping it leaves its pods running.

    Example:
      skiff agent --config /etc/skiff/agent.yaml
    """
    from control_plane.client import component
    from node_agent import agent as node_agent
    from node_agent.config import ConfigError, load

    component.setup_logging()
    try:
        cfg = load(config)
    except ConfigError as err:
        fail(str(err))
    node_agent.main(cfg)


def reset(
    config: Path = typer.Option(Path(defaults.AGENT_CONFIG), "--config", help="The agent's config file."),
    pidfile: Path = typer.Option(Path(defaults.AGENT_PIDFILE), "--pidfile",
                                 help="The agent supervisor's pidfile (`skiff supervise`)."),
    grace: float = typer.Option(10.0, "--grace", help="Seconds each container gets to stop."),
) -> None:
    """Stop this host's agent (its supervisor) and every container the agent started, like
    `kubeadm reset`; files stay (Ansible's reset.yml removes them).  Idempotent.

    Example:
      skiff reset --config /etc/skiff/agent.yaml
    """
    from node_agent import supervisor
    from node_agent.config import ConfigError, load
    from node_agent.teardown import stop_containers

    print("stopped the agent" if supervisor.stop(pidfile) else "the agent was not running", flush=True)
    if not config.exists():
        print(f"no agent config at {config}: no containers to stop")
        return
    try:
        cfg = load(config)
    except ConfigError as err:
        fail(str(err))
    stopped = stop_containers({cfg.node_name: cfg.runtime_dir}, grace,
                              progress=lambda line: print(line, flush=True))
    print(f"stopped {stopped} container{'s' if stopped != 1 else ''}")
