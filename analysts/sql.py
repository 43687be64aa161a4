"""`growth sql`: read-only SQL on the analyst snapshot, as a table, CSV or JSON.

Every statement of the query runs, in order, and each one that returns rows prints its
result as soon as it has run. Table output never cuts a value: a date or a number cut to
"2026-…" reads as a different value. When the table is wider than the terminal, text
columns wrap within it while numbers and dates stay whole; when even that does not fit,
the table is printed as wide as its values need (a pager such as ``less -S`` scrolls it).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

import duckdb
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from warehouse.errors import GrowthError
from warehouse.settings import Settings

Format = Literal["table", "csv", "json"]
NUMBER = (int, float, Decimal)
WHOLE = (*NUMBER, date, datetime, time, timedelta, UUID)  # values never split across lines
MIN_TEXT_WIDTH = 12  # a text column wraps no narrower than this before the table goes wide


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
        except duckdb.Error as exc:
            raise GrowthError(f"query failed: {str(exc).splitlines()[0]}") from exc
        printed = 0
        for number, statement in enumerate(statements, start=1):
            try:
                cursor = con.execute(statement)
                columns = [column[0] for column in cursor.description or []]
                rows = cursor.fetchall()
            except duckdb.Error as exc:
                where = f"statement {number} of {len(statements)}: " if len(statements) > 1 else ""
                raise GrowthError(f"query failed: {where}{str(exc).splitlines()[0]}") from exc
            if duckdb.ExpectedResultType.QUERY_RESULT not in statement.expected_result_type:
                continue  # SET and the like: nothing to show
            if printed and output == "table":
                console.out("")
            _print(columns, rows, output, console)
            printed += 1


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
        table, width = result_table(columns, rows, console.width)
        if width <= console.width:
            console.print(table)
        else:  # wider than the terminal: print it whole rather than cut a value
            Console(file=console.file, width=width, force_terminal=console.is_terminal).print(table)


def _width(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def result_table(columns: list[str], rows: list[tuple[Any, ...]], max_width: int) -> tuple[Table, int]:
    """The result as a rich table, and the width to print it at: ``max_width`` when it fits
    with text columns wrapped (never narrower than MIN_TEXT_WIDTH) and every number and date
    whole, else the width every value needs on one line."""
    cells = [["NULL" if value is None else str(value) for value in row] for row in rows]
    whole = [all(row[i] is None or isinstance(row[i], WHOLE) for row in rows) for i in range(len(columns))]
    numeric = [
        any(isinstance(row[i], NUMBER) and not isinstance(row[i], bool) for row in rows) and whole[i]
        for i in range(len(columns))
    ]
    natural = [max([_width(name), *(_width(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    borders = 3 * len(columns) + 1  # a rule and a space either side of every column
    narrowest = sum(w if keep else min(w, MIN_TEXT_WIDTH) for w, keep in zip(natural, whole, strict=True))
    width = max_width if narrowest + borders <= max_width else sum(natural) + borders
    table = Table()
    for name, keep, is_number in zip(columns, whole, numeric, strict=True):
        table.add_column(Text(name), justify="right" if is_number else "left", no_wrap=keep, overflow="fold")
    for row_cells in cells:
        table.add_row(*map(Text, row_cells))  # values as text, never read as markup
    return table, width


def open_shell(settings: Settings) -> None:
    """Replace this process with the DuckDB CLI on the snapshot, read-only."""
    if not settings.published.exists():
        raise GrowthError(f"no analyst snapshot at {settings.published}: run `growth publish` first")
    duckdb_cli = shutil.which("duckdb")
    if duckdb_cli is None:
        raise GrowthError('the duckdb command-line shell is not on PATH; pass a query: growth sql "SELECT ..."')
    os.execv(duckdb_cli, [duckdb_cli, "-readonly", str(settings.published)])
