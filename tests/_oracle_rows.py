"""What the independent oracles (tests/_oracle_*.py) share: events.md's revenue value,
metrics.md's calendar, the vars in force and the keyed comparison of a mart's rows with the
oracle's. Shared
among the oracles only: none of it comes from the product."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]

Row = dict[str, Any]
DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project" / "dbt_project.yml"
REVENUE_PATTERN = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")


def revenue_value(value: Any) -> float | None:
    """events.md "Derived values": ``properties.revenue`` (already JSON-decoded) as a JSON
    number, or a numeric string after trimming; anything else is no revenue."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and REVENUE_PATTERN.match(value.strip()):
        return float(value.strip())
    return None


def project_vars() -> dict[str, Any]:
    """The ``vars:`` of dbt_project.yml: what a build without ``--vars`` reads."""
    return dict(yaml.safe_load(DBT_PROJECT.read_text())["vars"])


@cache
def trunc(grain: str, day: date) -> date:
    """metrics.md "Dates": start of the day / ISO week (Monday) / calendar month holding ``day``."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


@cache
def periods_between(grain: str, a: date, b: date) -> int:
    """metrics.md "Dates": whole grain steps from ``trunc(grain, a)`` to ``trunc(grain, b)``."""
    if grain == "month":
        return (b.year - a.year) * 12 + b.month - a.month
    days = (trunc(grain, b) - trunc(grain, a)).days
    return days // 7 if grain == "week" else days


def compare(
    mart: str, keys: tuple[str, ...], want: list[Row], got: list[Row], same: Callable[[str, Any, Any], bool]
) -> list[str]:
    """One line per missing, unexpected, duplicated or differing row/column, keyed by ``keys``;
    ``same(column, want, got)`` decides a cell."""
    lines: list[str] = []
    got_by_key: dict[tuple[Any, ...], Row] = {}
    for row in got:
        key = tuple(row.get(k) for k in keys)
        if key in got_by_key:
            lines.append(f"{mart} {key}: duplicated row")
        got_by_key[key] = row
    want_by_key = {tuple(row[k] for k in keys): row for row in want}
    for key in sorted(set(want_by_key) | set(got_by_key), key=repr):
        label = f"{mart} ({', '.join(map(str, key))})"
        if key not in got_by_key:
            lines.append(f"{label}: missing row, expected {want_by_key[key]}")
        elif key not in want_by_key:
            lines.append(f"{label}: unexpected row {got_by_key[key]}")
        else:
            for column, value in want_by_key[key].items():
                if column not in got_by_key[key]:
                    lines.append(f"{label}: column {column} is missing")
                elif not same(column, value, got_by_key[key][column]):
                    lines.append(f"{label} {column}: expected {value!r}, got {got_by_key[key][column]!r}")
    return lines
