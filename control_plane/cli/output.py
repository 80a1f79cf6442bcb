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
from rich.table import Table

console = Console()
if not console.is_terminal:  # piped or logged: do not squeeze tables into 80 columns
    console = Console(width=160)
err_console = Console(stderr=True)


class Output(StrEnum):
    table = "table"
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


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error (never a traceback) and exit."""
    err_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)
