"""`growth sql`: read-only SQL on the analyst snapshot, as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import duckdb
from rich.console import Console
from rich.table import Table
from rich.text import Text

from warehouse.errors import GrowthError
from warehouse.settings import Settings

Format = Literal["table", "csv", "json"]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def run_query(settings: Settings, query: str, output: Format, console: Console) -> None:
    """Run every statement of ``query`` read-only on the snapshot and print each result."""
    if not settings.published.exists():
        raise GrowthError(f"no analyst snapshot at {settings.published}: run `growth publish` first")
    with duckdb.connect(str(settings.published), read_only=True) as con:
        try:
            statements = duckdb.extract_statements(query)
            results = []
            for statement in statements:
                cursor = con.execute(statement)
                results.append(([column[0] for column in cursor.description or []], cursor.fetchall()))
        except duckdb.Error as exc:
            raise GrowthError(f"query failed: {str(exc).splitlines()[0]}") from exc
    for columns, rows in results:
        if columns:  # a statement without a result (SET, PRAGMA) prints nothing
            _print(columns, rows, output, console)


def _print(columns: list[str], rows: list[tuple[Any, ...]], output: Format, console: Console) -> None:
    if output == "json":
        console.print_json(json.dumps([dict(zip(columns, map(_plain, row), strict=True)) for row in rows]))
    elif output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_plain(value) for value in row] for row in rows])
        console.out(buffer.getvalue(), end="")
    else:
        cells = [["NULL" if value is None else str(value) for value in row] for row in rows]
        table = Table(*columns)
        for row_cells in cells:
            table.add_row(*map(Text, row_cells))  # values as text, never read as markup
        # As wide as its values need, even past the terminal's edge: a date or a number cut
        # to "2026-…" reads as a different value. A wide table scrolls instead.
        widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]
        needed = sum(widths) + 3 * len(widths) + 1
        wide = Console(file=console.file, width=max(console.width, needed), force_terminal=console.is_terminal)
        wide.print(table)


def open_shell(settings: Settings) -> None:
    """Replace this process with the DuckDB CLI on the snapshot, read-only."""
    if not settings.published.exists():
        raise GrowthError(f"no analyst snapshot at {settings.published}: run `growth publish` first")
    duckdb_cli = shutil.which("duckdb")
    if duckdb_cli is None:
        raise GrowthError('the duckdb command-line shell is not on PATH; pass a query: growth sql "SELECT ..."')
    os.execv(duckdb_cli, [duckdb_cli, "-readonly", str(settings.published)])
