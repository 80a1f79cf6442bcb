"""`skiff chaos run`: kill, stop, pause or cut off masters on a schedule while clients
drive a recorded workload; then check the history and write a report (`docs/chaos.md`)."""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from control_plane.cli.output import OUTPUT_OPTION, Output, err_console, fail

if TYPE_CHECKING:
    from control_plane.devtools.chaos.targets import Target

app = typer.Typer(help="Inject faults under load and prove nothing was lost.", no_args_is_help=True)


@app.command("run")
def run(
    ctx: typer.Context,
    scenario: str = typer.Option(..., "--scenario", "-s",
                                 help="kill-leader, kill-random-master, restart-all-masters, "
                                      "partition-leader, partition-minority, kill-agent, pause-leader "
                                      "or mixed; A,B takes turns."),
    duration: float = typer.Option(120.0, "--duration", min=1, help="Seconds of fault injection."),
    interval: float = typer.Option(10.0, "--interval", min=1, help="Seconds between two faults."),
    hold: float = typer.Option(3.0, "--hold", min=0, help="Seconds each fault lasts before it is healed."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (victims, operations); printed."),
    report_dir: Path | None = typer.Option(None, "--report",
                                           help="Report directory (default run/chaos/<time>)."),
    directory: Path = typer.Option(Path("run/cluster"), "--dir", help="The cluster from `skiff up --dir`."),
    lab: str | None = typer.Option(None, "--lab",
                                   help="A lab's cluster (built by site.yml): faults over SSH."),
    inventory: Path | None = typer.Option(None, "--inventory", "-i",
                                          help="An Ansible inventory of the cluster: faults over SSH."),
    known_hosts: Path | None = typer.Option(None, "--known-hosts", help="Host keys for SSH (with -i)."),
    ssh_key: Path | None = typer.Option(None, "--ssh-key", help="SSH key (default: the inventory's)."),
    store_clients: int = typer.Option(4, "--store-clients", min=1, help="Store clients (threads)."),
    api_clients: int = typer.Option(2, "--api-clients", min=0, help="API clients (threads)."),
    keys: int = typer.Option(4, "--keys", min=1, help="Store keys the clients share."),
    replicas: int = typer.Option(2, "--replicas", min=0,
                                 help="Replicas of the workload deployment that must survive (0: none)."),
    op_timeout: float = typer.Option(1.0, "--op-timeout", min=0.1, help="Deadline of one client operation."),
    settle: float = typer.Option(3.0, "--settle", min=0, help="Seconds of load after the last heal."),
    output: Output = OUTPUT_OPTION,
) -> None:
    """Run a chaos scenario against a running cluster and check it stayed correct.

    The cluster is a local one (`--dir`, from `skiff up`), or one reached over SSH: a
    lab's (`--lab NAME`) or any cluster from an Ansible inventory (`-i`, with its
    admin config from the root `--config` or the inventory's skiff-assets/admin.conf).
    Partition scenarios need SSH hosts, each in its own network namespace.

    Exit code: 0 every check passed; 1 a check failed (the report shows the smallest
    failing piece of history); 2 the run could not be made (cluster not healthy, bad
    arguments).

    Example:
      skiff up --dir run/cluster
      skiff chaos run --scenario kill-leader --duration 60 --interval 10 --report run/chaos/kl
      skiff chaos run --lab lab --scenario partition-leader --duration 60
    """
    from control_plane.client.config import ConfigError
    from control_plane.devtools.chaos import report as reports
    from control_plane.devtools.chaos.runner import Run, RunConfig
    from control_plane.devtools.chaos.scenarios import NEEDS_PARTITION, SCENARIOS

    unknown = [s for s in scenario.split(",") if s not in SCENARIOS]
    if unknown:
        fail(f"unknown scenario {unknown[0]!r}; choose one of {', '.join(SCENARIOS)}", code=2)
    if interval > duration:
        fail(f"--interval {interval:g} is longer than --duration {duration:g}: no fault would be injected",
             code=2)
    seed = random.randrange(2**31) if seed is None else seed
    report_dir = report_dir or Path("run/chaos") / time.strftime("%Y%m%d-%H%M%S")
    target = _target(ctx, directory, lab, inventory, known_hosts, ssh_key)
    partitions = [s for s in scenario.split(",") if s in NEEDS_PARTITION]
    if partitions and not target.can_partition:
        fail(f"{partitions[0]} needs a lab or SSH hosts (--lab, -i): a local cluster's hosts share one "
             "network namespace", code=2)
    cfg = RunConfig(scenario=scenario, duration=duration, interval=interval, hold=hold, seed=seed,
                    store_clients=store_clients, api_clients=api_clients, keys=keys, replicas=replicas,
                    op_timeout=op_timeout, settle=settle)
    started = time.monotonic()

    def progress(message: str) -> None:
        err_console.print(f"[dim]{time.monotonic() - started:6.1f}s[/dim] {message}", highlight=False)

    progress(f"chaos {scenario} for {duration:g}s, a fault every {interval:g}s held {hold:g}s, seed {seed}")
    try:
        outcome = Run(target, cfg, progress).execute()
    except (TimeoutError, ConfigError) as err:
        fail(str(err), code=2)
    report = reports.write(outcome, report_dir)
    if output == Output.table:
        print(reports.summary(report))
        print(f"\nreport: {report_dir}/report.json, timeline: {report_dir}/timeline.png")
    else:
        from control_plane.cli.output import emit

        emit(report, output)
    sys.stdout.flush()
    raise typer.Exit(0 if report["ok"] else 1)


def _target(ctx: typer.Context, directory: Path, lab: str | None, inventory: Path | None,
            known_hosts: Path | None, ssh_key: Path | None) -> Target:
    """The cluster to inject faults into (exits with code 2 and one line if unusable)."""
    from control_plane.devtools.chaos.sshtarget import SshTarget
    from control_plane.devtools.chaos.targets import LocalTarget
    from control_plane.devtools.lab.lab import LAB_ROOT

    config = (ctx.find_root().obj or {}).get("config")
    try:
        if lab is not None:
            home = LAB_ROOT / lab
            return SshTarget(home / "inventory.yaml", [home / "known_hosts"],
                             Path(config) if config else None, ssh_key)
        if inventory is not None:
            return SshTarget(inventory, [known_hosts] if known_hosts else [],
                             Path(config) if config else None, ssh_key)
        return LocalTarget(directory)
    except FileNotFoundError as err:
        fail(f"{err}; start one with `skiff up --dir {directory}`", code=2)
    except ValueError as err:
        fail(str(err), code=2)


@app.command("host")
def host(
    action: str = typer.Argument(..., help="kill, stop, start, kill-agent, pause, resume, isolate, "
                                          "reconnect or pods."),
    peers: str = typer.Option("", "--peers", help="isolate: comma-separated addresses to cut off."),
) -> None:
    """Inject one fault on this host (what `skiff chaos run` runs over SSH on a host
    that Ansible or `skiff node join` set up; root).

    Example:
      skiff chaos host isolate --peers 10.97.0.2,10.97.0.3
      skiff chaos host reconnect
    """
    from control_plane.devtools.chaos.hostops import HostFaultError, HostLayout, HostOps

    if _systemd_agent():
        # Its unit restarts a killed agent, and a supervisor started here would run a
        # second one: refuse rather than corrupt the host.
        fail("this host's agent runs under systemd, which `skiff chaos host` does not drive yet "
             "(supported: the `skiff supervise` agents of hosts without systemd, such as lab hosts)")
    ops = HostOps(HostLayout.provisioned(_own_skiff()))
    actions = {"kill": ops.kill, "stop": ops.stop, "start": ops.start, "kill-agent": ops.kill_agent,
               "pause": ops.pause, "resume": ops.resume, "reconnect": ops.reconnect}
    try:
        if action == "pods":
            print(json.dumps(ops.running_pods()))
        elif action == "isolate":
            if not peers:
                fail("isolate needs --peers ADDRESS,...", code=2)
            ops.isolate([p for p in peers.split(",") if p])
        elif action in actions:
            actions[action]()
        else:
            known = ", ".join([*actions, "isolate", "pods"])
            fail(f"unknown action {action!r}; choose one of {known}", code=2)
    except HostFaultError as err:
        fail(str(err))


def _own_skiff() -> tuple[str, ...]:
    """This installation's `skiff` (the script beside this Python, as the Ansible roles
    start it), else `python -m control_plane.cli.main`."""
    script = Path(sys.executable).parent / "skiff"
    return (str(script),) if script.exists() else (sys.executable, "-m", "control_plane.cli.main")


def _systemd_agent() -> bool:
    """The Ansible role installed the agent as a systemd unit (systemd is PID 1)."""
    try:
        pid1 = Path("/proc/1/comm").read_text().strip()
    except OSError:
        return False
    return pid1 == "systemd" and Path("/etc/systemd/system/skiff-agent.service").exists()
