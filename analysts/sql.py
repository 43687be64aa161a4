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
    """Run one query read-only on the snapshot and print its result."""
    if not settings.published.exists():
        raise GrowthError(f"no analyst snapshot at {settings.published}: run `growth publish` first")
    with duckdb.connect(str(settings.published), read_only=True) as con:
        try:
            cursor = con.execute(query)
            columns = [column[0] for column in cursor.description or []]
            rows = cursor.fetchall()
        except duckdb.Error as exc:
            raise GrowthError(f"query failed: {str(exc).splitlines()[0]}") from exc
    if output == "json":
        console.print_json(json.dumps([dict(zip(columns, map(_plain, row), strict=True)) for row in rows]))
    elif output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_plain(value) for value in row] for row in rows])
        console.out(buffer.getvalue(), end="")
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*("NULL" if value is None else str(value) for value in row))
        console.print(table)


def open_shell(settings: Settings) -> None:
    """Replace this process with the DuckDB CLI on the snapshot, read-only."""
    if not settings.published.exists():
        raise GrowthError(f"no analyst snapshot at {settings.published}: run `growth publish` first")
    duckdb_cli = shutil.which("duckdb")
    if duckdb_cli is None:
        raise GrowthError('the duckdb command-line shell is not on PATH; pass a query: growth sql "SELECT ..."')
    os.execv(duckdb_cli, [duckdb_cli, "-readonly", str(settings.published)])
