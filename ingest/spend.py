"""`growth load-spend`: marketing spend CSVs into raw.marketing_spend (docs/events.md).

A file is the unit: it is parsed completely before anything is written, and loaded in one
transaction that first removes the rows an earlier load of the same file name left, so
loading again replaces instead of doubling. One malformed row rejects the whole file with
its file, line and column; other files of the same command still load.

The base name is a file's identity (docs/events.md), so a file of the same name from another
folder would silently replace the first one's rows: it is refused unless ``replace``. A
file without rows and a channel no event has as its campaign source load with a warning,
since both are more often a mistake than an intent.

With the spark engine the same rules hold for the lake, where each loaded file's rows are one
Parquet file (``marketing_spend/<base name>.parquet``, same columns as raw.marketing_spend),
replaced whole by a rename when the file is loaded again (:mod:`warehouse.lake`).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse.connection import writing
from warehouse.errors import GrowthError
from warehouse.lake import EVENTS, SPEND, Lake, raw_in_memory
from warehouse.settings import Settings

log = logging.getLogger(__name__)
HEADER = ["date", "channel", "campaign", "spend"]
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
AMOUNT = re.compile(r"\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


class SpendFileError(GrowthError):
    """A spend file that cannot be loaded; the message names file, line and column."""


@dataclass(frozen=True)
class SpendFileResult:
    path: Path
    rows: int
    error: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def loaded(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class SpendRow:
    spend_date: date
    channel: str
    campaign: str | None
    spend: float
    line: int


def _fail(path: Path, line: int, column: str, reason: str) -> SpendFileError:
    return SpendFileError(f"{path.name}:{line}: column {column}: {reason}")


def parse_spend_file(path: Path) -> list[SpendRow]:
    """Every row of one file, or a SpendFileError for the first bad one."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpendFileError(f"{path.name}: cannot read as UTF-8 text: {exc}") from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or [cell.strip().lower() for cell in header] != HEADER:
            raise SpendFileError(f"{path.name}:1: header must be {','.join(HEADER)}, got {','.join(header or [])!r}")
        rows = []
        for cells in reader:
            line = reader.line_num
            if not cells or cells == [""]:
                continue
            if len(cells) != len(HEADER):
                raise _fail(path, line, "-", f"expected {len(HEADER)} fields, got {len(cells)}")
            raw_date, channel, campaign, raw_spend = (cell.strip() for cell in cells)
            if not DATE.fullmatch(raw_date):
                raise _fail(path, line, "date", f"{raw_date!r} is not YYYY-MM-DD")
            try:
                spend_date = date.fromisoformat(raw_date)
            except ValueError as exc:
                raise _fail(path, line, "date", f"{raw_date!r}: {exc}") from exc
            if not channel:
                raise _fail(path, line, "channel", "empty channel")
            if not AMOUNT.fullmatch(raw_spend):
                raise _fail(path, line, "spend", f"{raw_spend!r} is not a non-negative decimal")
            rows.append(SpendRow(spend_date, channel, campaign or None, float(raw_spend), line))
    except csv.Error as exc:
        raise SpendFileError(f"{path.name}:{reader.line_num}: malformed CSV: {exc}") from exc
    return rows


def _expand(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.csv")))
        elif path.exists():
            files.append(path)
        else:
            raise SpendFileError(f"{path}: no such file or directory")
    return files


KNOWN_CHANNELS_SQL = """
select distinct lower(trim(json_extract_string(campaign_source_raw, '$')))
from {events} where campaign_source_raw is not null
"""
SPEND_OF_FILE = "select * from raw.marketing_spend where source_file = ?"


@contextmanager
def _spend_tables(settings: Settings) -> Iterator[tuple[duckdb.DuckDBPyConnection, str | None]]:
    """A connection whose raw.marketing_spend holds every spend row loaded so far, and the SQL
    relation of the events (None while there are none), so that the checks and the replace are
    the same SQL on either engine.

    DuckDB: the warehouse file under the writer lock. The lake: an in-memory copy of its spend
    files (a few rows per day and channel), from which the replaced file is copied back out.
    """
    if not settings.uses_lake:
        with writing(settings, create=True) as con:
            yield con, "raw.events"
        return
    lake = Lake(settings.lake)
    with raw_in_memory() as con:
        if (spend := lake.relation(SPEND)) is not None:
            con.execute(f"insert into raw.marketing_spend by name select * from {spend}")
        yield con, lake.relation(EVENTS)


def _store(settings: Settings, path: Path, rows: list[SpendRow], *, replace: bool) -> tuple[str, ...]:
    """Replace the file's rows in one transaction; return the warnings to show."""
    table = pa.table(
        {
            "spend_date": pa.array([row.spend_date for row in rows], type=pa.date32()),
            "channel": pa.array([row.channel for row in rows], type=pa.string()),
            "campaign": pa.array([row.campaign for row in rows], type=pa.string()),
            "spend": pa.array([row.spend for row in rows], type=pa.float64()),
            "source_line": pa.array([row.line for row in rows], type=pa.int32()),
        }
    )
    source = str(path.resolve())
    with _spend_tables(settings) as (con, events):
        others = [
            other
            for (other,) in con.execute(
                "select distinct source_path from raw.marketing_spend where source_file = ? and source_path <> ?",
                [path.name, source],
            ).fetchall()
        ]
        if others and not replace:
            raise SpendFileError(
                f"{path}: a file named {path.name} was loaded from {others[0]}; "
                "pass --replace to replace its rows with this file's"
            )
        known = {"direct"}
        if events is not None:
            known |= {channel for (channel,) in con.execute(KNOWN_CHANNELS_SQL.format(events=events)).fetchall()}
        con.register("spend_rows", table)
        con.begin()
        con.execute("delete from raw.marketing_spend where source_file = ?", [path.name])
        con.execute(
            "insert into raw.marketing_spend by name "
            "select *, ? as source_file, ? as source_path, ?::timestamptz as loaded_at from spend_rows",
            [path.name, source, datetime.now(UTC)],
        )
        if settings.uses_lake:
            lake = Lake(settings.lake)
            lake.publish(con, SPEND_OF_FILE, [path.name], lake.spend_file(path.name))
        con.commit()
    warnings = [] if rows else [f"{path.name}: no rows (header only); any rows it had before are removed"]
    if len(known) > 1:  # with no events yet, every channel would be "unknown"
        unknown = sorted({row.channel for row in rows if row.channel.strip().lower() not in known})
        if unknown:
            warnings.append(f"{path.name}: channel {', '.join(unknown)} matches no campaign source in the events")
    return tuple(warnings)


def changed_files(settings: Settings, paths: Sequence[Path]) -> list[Path]:
    """Files never loaded, or modified since their last load (what a scheduler should load)."""
    files = _expand(paths)
    if not settings.uses_lake and not settings.warehouse.exists():
        return files
    with _spend_tables(settings) as (con, _events):
        loaded = dict(con.execute("select source_file, max(loaded_at) from raw.marketing_spend group by 1").fetchall())
    return [
        path
        for path in files
        if path.name not in loaded or datetime.fromtimestamp(path.stat().st_mtime, UTC) > loaded[path.name]
    ]


def load_spend(settings: Settings, paths: Sequence[Path], *, replace: bool = False) -> list[SpendFileResult]:
    """Load each file on its own; a rejected file is reported, never partly loaded."""
    results = []
    for path in _expand(paths):
        try:
            rows = parse_spend_file(path)
            warnings = _store(settings, path, rows, replace=replace)
        except SpendFileError as exc:
            results.append(SpendFileResult(path, 0, str(exc)))
            continue
        for warning in warnings:
            log.warning(warning)
        results.append(SpendFileResult(path, len(rows), warnings=warnings))
    return results
