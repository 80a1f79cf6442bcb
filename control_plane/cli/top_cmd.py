"""`skiff top nodes`: each node's live CPU and memory use, as its agent reports it
(`status.usage.cpuFraction` / `memoryFraction`, shares of the node's capacity)."""

from __future__ import annotations

from enum import StrEnum

import typer

from control_plane.api import paths
from control_plane.api.objects import Obj
from control_plane.cli.humanize import UNKNOWN, cores, memory, percent
from control_plane.cli.output import OUTPUT_OPTION, Output, emit, fail, table
from control_plane.cli.session import open_session

NODES = paths.resource("nodes")
COLUMNS = ["NAME", "CPU%", "MEMORY%", "CPU(ALLOCATABLE)", "MEMORY(ALLOCATABLE)"]
app = typer.Typer(help="Live resource use of nodes.", no_args_is_help=True)


class SortBy(StrEnum):
    name = "name"
    cpu = "cpu"
    memory = "memory"


def usage_row(node: Obj) -> Obj:
    """One node's usage for `-o json`: fractions (None when the node reports none)."""
    status = node.get("status") or {}
    usage = status.get("usage") or {}
    alloc = status.get("allocatable") or status.get("capacity") or {}
    return {"name": node["metadata"]["name"], "cpuFraction": _fraction(usage.get("cpuFraction")),
            "memoryFraction": _fraction(usage.get("memoryFraction")),
            "allocatableCpu": alloc.get("cpu"), "allocatableMemory": alloc.get("memory")}


def _fraction(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def cells(row: Obj) -> list[str]:
    cpu, mem = row["allocatableCpu"], row["allocatableMemory"]
    return [row["name"], percent(row["cpuFraction"]), percent(row["memoryFraction"]),
            cores(cpu) if cpu is not None else UNKNOWN, memory(mem) if mem is not None else UNKNOWN]


@app.command("nodes")
def top_nodes(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="One node (default: all)."),
    selector: str | None = typer.Option(None, "--selector", "-l", help="Label selector, e.g. pool=big."),
    sort_by: SortBy = typer.Option(SortBy.name, "--sort-by", help="name, cpu or memory (busiest first)."),
    output: Output = OUTPUT_OPTION,
) -> None:
    """Show CPU% and MEMORY% in use per node, next to what is allocatable.

    A node whose agent has not reported usage shows `<unknown>`.

    Example:
      skiff top nodes
      skiff top nodes --sort-by cpu
      skiff top nodes w1 -o json
    """
    session = open_session(ctx)
    with session.errors():
        field = f"metadata.name={name}" if name else None
        items = session.api.list(paths.path(NODES), selector, field)["items"]
    if name and not items:
        fail(f'nodes "{name}" not found')
    rows = sorted((usage_row(n) for n in items), key=lambda r: r["name"])
    if sort_by != SortBy.name:
        metric = "cpuFraction" if sort_by == SortBy.cpu else "memoryFraction"
        rows.sort(key=lambda r: -1.0 if r[metric] is None else r[metric], reverse=True)
    if output in (Output.json, Output.yaml):
        emit(rows, output)
        return
    table(COLUMNS, [cells(r) for r in rows])
