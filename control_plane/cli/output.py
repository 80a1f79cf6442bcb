"""Printing for the CLI: rich tables for people, `-o json|yaml` for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

console = Console()
if not console.is_terminal:  # piped or logged: do not squeeze tables into 80 columns
    console = Console(width=160)
err_console = Console(stderr=True)


class Output(StrEnum):
    table = "table"
    wide = "wide"  # a table with more columns (`skiff get -o wide`); elsewhere the same as table
    json = "json"
    yaml = "yaml"


OUTPUT_OPTION = typer.Option(Output.table, "--output", "-o", help="table, json or yaml")


def emit(data: Any, fmt: Output, columns: Sequence[str] | None = None, title: str | None = None) -> None:
    """Print `data` (a list of dicts or one dict) in the chosen format."""
    if fmt == Output.json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    if fmt == Output.yaml:
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False))
        return
    if isinstance(data, dict) and columns is None:
        for key, value in data.items():
            console.print(f"[bold]{key}[/bold]: {value}", highlight=False)
        return
    rows = data if isinstance(data, list) else [data]
    cols = list(columns or (rows[0].keys() if rows else []))
    table = Table(title=title, header_style="bold")
    for col in cols:
        table.add_column(col.upper().replace("_", " "))
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in cols))
    console.print(table)


def table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a borderless, kubectl-style table; cells are plain text (no rich markup).

    Like kubectl, the table takes its natural width: nothing is truncated or folded to
    fit the terminal (a long line wraps in the terminal, and pipes get whole lines).
    """
    gap = 3
    grid = Table(box=None, header_style="bold", pad_edge=False, padding=(0, gap, 0, 0))
    for col in columns:
        grid.add_column(col, no_wrap=True)
    cells = [[str(cell) for cell in row] for row in rows]
    for row in cells:
        grid.add_row(*(Text(cell) for cell in row))
    widths = [max([len(col), *(len(row[i]) for row in cells if i < len(row))])
              for i, col in enumerate(columns)]
    usual = console.width
    console.width = max(usual, sum(widths) + gap * len(widths))  # print(width=) cannot exceed it
    try:
        console.print(grid)
    finally:
        console.width = usual


def error(message: str) -> None:
    """Print `error: <message>` on stderr as one line (the message is plain text, not markup)."""
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error (never a traceback) and exit."""
    error(message)
    raise typer.Exit(code)
