"""Two builds' marts compared cell by cell: a Spark build with the DuckDB build (interface.md:
counts exactly, doubles to 1e-9), or day-by-day incremental builds with a full refresh
(metrics.md "Rebuilds"; doubles to 1e-9, because sums folded batch by batch add in another
order than one sum over every row)."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import duckdb


def comparable(value: object) -> object:
    """A cell as both builds should agree on it: decimals as floats (instants compare as
    instants whatever zone they are shown in)."""
    return float(value) if isinstance(value, Decimal) else value


def same(left: object, right: object) -> bool:
    """Equal, doubles to 1e-9; a count must be equal exactly."""
    if isinstance(left, float) or isinstance(right, float):
        return (
            isinstance(left, int | float)
            and isinstance(right, int | float)
            and math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)
        )
    return left == right


def rows(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[list[str], list[tuple[object, ...]]]:
    """Columns (bookkeeping ones left out) and rows of ``relation``, sorted on every column."""
    columns = [
        name
        for (name,) in con.execute(f"select column_name from (describe {relation})").fetchall()
        if not name.startswith("_")
    ]
    listed = ", ".join(f'"{name}"' for name in columns)
    data = con.execute(f"select {listed} from {relation} order by {listed}").fetchall()
    return columns, [tuple(comparable(value) for value in row) for row in data]


def assert_same_mart(reference: Path, other: Path, mart: str, *, names: tuple[str, str] = ("DuckDB", "Spark")) -> None:
    """``marts.<mart>`` of the warehouse file ``other`` equals that of ``reference``: the same
    columns, of the same types, and the same rows. ``names`` name the two builds in messages."""
    with duckdb.connect() as con:
        con.execute(f"attach '{reference}' as reference (read_only)")
        con.execute(f"attach '{other}' as other (read_only)")
        types = "select column_name, data_type from duckdb_columns() where database_name = ? and table_name = ?"
        reference_types = con.execute(types + " order by column_index", ["reference", mart]).fetchall()
        other_types = con.execute(types + " order by column_index", ["other", mart]).fetchall()
        reference_columns, reference_rows = rows(con, f"reference.marts.{mart}")
        other_columns, other_rows = rows(con, f"other.marts.{mart}")
    assert other_columns == reference_columns
    assert other_types == reference_types
    assert len(other_rows) == len(reference_rows), (
        f"{mart}: {len(other_rows)} rows on {names[1]}, {len(reference_rows)} on {names[0]}"
    )
    assert reference_rows, f"{mart} is empty on {names[0]}: the comparison would prove nothing"
    for other_row, reference_row in zip(other_rows, reference_rows, strict=True):
        mismatched = [
            (column, other_value, reference_value)
            for column, other_value, reference_value in zip(reference_columns, other_row, reference_row, strict=True)
            if not same(other_value, reference_value)
        ]
        assert not mismatched, f"{mart}: {mismatched} in row {reference_row} ({names[1]}, {names[0]})"
