"""`skiff chaos run`: kill, stop, pause or cut off masters on a schedule while clients
drive a recorded workload; then check the history and write a report (`docs/chaos.md`)."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import typer

from control_plane.cli.output import OUTPUT_OPTION, Output, err_console, fail

app = typer.Typer(help="Inject faults under load and prove nothing was lost.", no_args_is_help=True)


@app.command("run")
def run(
    scenario: str = typer.Option(..., "--scenario", "-s",
                                 help="kill-leader, kill-random-master, restart-all-masters, "
                                      "partition-leader, partition-minority, kill-agent, pause-leader "
                                      "or mixed."),
    duration: float = typer.Option(120.0, "--duration", min=1, help="Seconds of fault injection."),
    interval: float = typer.Option(10.0, "--interval", min=1, help="Seconds between two faults."),
    hold: float = typer.Option(3.0, "--hold", min=0, help="Seconds each fault lasts before it is healed."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (victims, operations); printed."),
    report_dir: Path | None = typer.Option(None, "--report",
                                           help="Report directory (default run/chaos/<time>)."),
    directory: Path = typer.Option(Path("run/cluster"), "--dir", help="The cluster from `skiff up --dir`."),
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

    Exit code: 0 every check passed; 1 a check failed (the report shows the smallest
    failing piece of history); 2 the run could not be made (cluster not healthy, bad
    arguments).

    Example:
      skiff up --dir run/cluster
      skiff chaos run --scenario kill-leader --duration 60 --interval 10 --report run/chaos/kl
    """
    from control_plane.chaos import report as reports
    from control_plane.chaos.runner import Run, RunConfig
    from control_plane.chaos.scenarios import SCENARIOS
    from control_plane.chaos.targets import LocalTarget

    if scenario not in SCENARIOS:
        fail(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}", code=2)
    if interval > duration:
        fail(f"--interval {interval:g} is longer than --duration {duration:g}: no fault would be injected",
             code=2)
    seed = random.randrange(2**31) if seed is None else seed
    report_dir = report_dir or Path("run/chaos") / time.strftime("%Y%m%d-%H%M%S")
    try:
        target = LocalTarget(directory)
    except FileNotFoundError as err:
        fail(f"{err}; start one with `skiff up --dir {directory}`", code=2)
    if scenario.startswith("partition"):
        fail(f"{scenario} needs a lab: a local cluster's hosts share one network namespace", code=2)
    cfg = RunConfig(scenario=scenario, duration=duration, interval=interval, hold=hold, seed=seed,
                    store_clients=store_clients, api_clients=api_clients, keys=keys, replicas=replicas,
                    op_timeout=op_timeout, settle=settle)
    started = time.monotonic()

    def progress(message: str) -> None:
        err_console.print(f"[dim]{time.monotonic() - started:6.1f}s[/dim] {message}", highlight=False)

    progress(f"chaos {scenario} for {duration:g}s, a fault every {interval:g}s held {hold:g}s, seed {seed}")
    try:
        outcome = Run(target, cfg, progress).execute()
    except TimeoutError as err:
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
