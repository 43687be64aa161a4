"""The raw layer as a Parquet lake (``GROWTH_ENGINE=spark``): layout, atomic files, offsets.

With the spark engine the raw tables are folders of Parquet files under ``GROWTH_LAKE``
instead of tables in the DuckDB file, with the same columns and types
(:data:`warehouse.connection.RAW_SCHEMA_DDL`, which this module builds in an in-memory
DuckDB and copies out, so the two can never drift apart)::

    <lake>/events/<topic>/<partition>/<first>-<last>.parquet
    <lake>/events_quarantine/<topic>/<partition>/<first>-<last>.parquet
    <lake>/marketing_spend/<source file>.parquet
    <lake>/forgotten_ids/<request>.parquet      (raw.forgotten_ids, one file per `growth forget`)
    <lake>/deletion_log/<entry>.parquet         (raw.deletion_log, one file per entry)
    <lake>/_locks/<topic>/<partition>.lock

``<first>-<last>`` is the range of Kafka offsets one ingest batch covered in that partition
(decimal, inclusive). The folders are plain names, not Hive ``key=value`` ones: every file
carries ``kafka_topic`` and ``kafka_partition`` itself, and partition discovery (Spark's,
DuckDB's) would otherwise add or retype those columns.

Exactly once, without a transaction spanning two files: a batch's events file is its
commit. The quarantine file of a batch (if it has rejected records) lands first, then the
events file (always written, with no rows if every record was rejected); each is written
under a hidden temporary name in its final folder, fsynced, renamed into place and its
folder fsynced. The next offset of a partition is the largest ``<last>`` of its events
files plus one. A crash before the events file's rename leaves at most a temporary file
and a quarantine file whose range no events file covers: both are leftovers, which the
next writer of the partition deletes (under the partition's lock) before it writes that
range again. Readers never see a temporary file (Spark and DuckDB skip names that start
with a dot), and see a batch's quarantine file at most a moment before its events file.

`growth compact` merges a partition's consecutive batch files into larger ones
(warehouse/compaction.py); a file whose range lies inside another's is the original of such a
merge: readers skip it and the partition's next writer, or the next build, deletes it.

A writer holds the partition's lock (``flock``, so local file systems only; the kernel
releases it when a process dies) from reading the next offset until its files are in
place, so two ingesters of one consumer group, or a late one whose partition moved, never
write an offset twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import duckdb

from warehouse.connection import ensure_raw_schema
from warehouse.errors import GrowthError
from warehouse.lock import writer_lock
from warehouse.settings import Settings

log = logging.getLogger(__name__)

EVENTS = "events"
QUARANTINE = "events_quarantine"
SPEND = "marketing_spend"
FORGOTTEN = "forgotten_ids"
DELETION_LOG = "deletion_log"
# Tables kept as a flat folder of whole files (not per topic and partition).
FLAT = (SPEND, FORGOTTEN, DELETION_LOG)
RANGE = re.compile(r"([0-9]+)-([0-9]+)\.parquet")
TEMPORARY = ".tmp"  # suffix of a file being written (its name also starts with a dot)


def range_name(first: int, last: int) -> str:
    """The file name of a batch that covered offsets ``first`` to ``last`` of one partition."""
    return f"{first}-{last}.parquet"


def parse_range(name: str) -> tuple[int, int] | None:
    """``(first, last)`` of a batch file's name; None for anything else (temporary files)."""
    match = RANGE.fullmatch(name)
    return (int(match[1]), int(match[2])) if match else None


def _sql_string(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def read_files(files: Sequence[Path], *, with_filename: bool = False) -> str:
    """SQL (DuckDB) reading the lake files ``files`` (each row's file in ``filename`` if asked); a
    file written before a column existed reads it as null."""
    paths = ", ".join(_sql_string(path) for path in files)
    return (
        f"read_parquet([{paths}], hive_partitioning = false, union_by_name = true"
        f"{', filename = true' if with_filename else ''})"
    )


def _fsync(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def raw_in_memory(memory_limit: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB holding the raw schema: the staging area from which lake files are copied.

    Rows go through the same SQL as into the warehouse file (the same casts, the same
    constraints), so a lake file has exactly the columns and types the DuckDB raw table has.
    It spills to the system's temporary folder beyond ``memory_limit``.
    """
    con = duckdb.connect(":memory:")
    try:
        if memory_limit:
            con.execute(f"set memory_limit = {_sql_string(memory_limit)}")
        con.execute(f"set temp_directory = {_sql_string(Path(tempfile.gettempdir()) / 'growth-lake-spill')}")
        con.execute("set enable_progress_bar = false")
        ensure_raw_schema(con)
        yield con
    finally:
        con.close()


def use_lake_tables(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """Make the raw tables of an in-memory DuckDB (:func:`raw_in_memory`) read the lake, so SQL
    written for the warehouse file runs unchanged: events and quarantine become views over their
    files, and the forgotten ids are loaded (a table, so a request can add to it)."""
    for table in (EVENTS, QUARANTINE):
        relation = lake.relation(table)
        if relation is not None:
            con.execute(f"drop table raw.{table}")
            con.execute(f"create view raw.{table} as select * from {relation}")
    forgotten = lake.relation(FORGOTTEN)
    if forgotten is not None:
        con.execute(f"insert or ignore into raw.{FORGOTTEN} select * from {forgotten}")


def _by_range(folder: Path) -> tuple[list[Path], list[Path]]:
    """The batch files in ``folder`` in offset order, split into those holding rows of their own
    and those whose range lies inside another file's range. Ingest never writes overlapping
    ranges, so an enclosed file is the original of a compaction whose merged file landed."""
    if not folder.is_dir():
        return [], []
    ranges = [(parsed, path) for path in folder.iterdir() if (parsed := parse_range(path.name))]
    kept: list[Path] = []
    enclosed: list[Path] = []
    reach = -1  # the last offset of the files kept so far
    # By first offset, the wider range first: a file is enclosed when an earlier one reaches past it.
    for (_, last), path in sorted(ranges, key=lambda item: (item[0][0], -item[0][1])):
        if last <= reach:
            enclosed.append(path)
        else:
            kept.append(path)
            reach = last
    return kept, enclosed


@dataclass(frozen=True)
class Lake:
    """The lake under one root folder (paths only: nothing is read or created until asked)."""

    root: Path

    # -- layout ---------------------------------------------------------------------------

    def partition_dir(self, table: str, topic: str, partition: int) -> Path:
        return self.root / table / topic / str(partition)

    def spend_file(self, source_file: str) -> Path:
        """Where the spend of one CSV base name (its identity) lives; the name escaped for any file system
        and never hidden (Spark skips names starting with ``.`` or ``_``)."""
        name = quote(source_file, safe="")
        if name[:1] in (".", "_"):
            name = f"%{ord(name[0]):02X}{name[1:]}"
        return self.root / SPEND / f"{name}.parquet"

    def entry_file(self, table: str) -> Path:
        """A new file of a flat ``table`` (forgotten ids, the deletion log): named by the UTC instant and
        the process, so entries sort by time and two writers never pick one name."""
        return self.root / table / f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{os.getpid()}.parquet"

    def files(self, table: str, topic: str | None = None) -> list[Path]:
        """The batch (or spend, or entry) files of ``table`` present, temporary files excluded."""
        base = self.root / table
        if table in FLAT:
            return sorted(base.glob("*.parquet")) if base.is_dir() else []
        topics = [topic] if topic is not None else self.topics(table)
        return [
            path
            for name in topics
            for partition in self.partitions(name, tables=(table,))
            for path in self._batch_files(self.partition_dir(table, name, partition))
        ]

    def topics(self, table: str = EVENTS) -> list[str]:
        """Topics with a folder in ``table``."""
        base = self.root / table
        return sorted(path.name for path in base.iterdir() if path.is_dir()) if base.is_dir() else []

    def partitions(self, topic: str, tables: Sequence[str] = (EVENTS, QUARANTINE)) -> list[int]:
        """Partitions of ``topic`` with a folder in any of ``tables`` (leftovers of a crash included)."""
        found: set[int] = set()
        for table in tables:
            folder = self.root / table / topic
            if folder.is_dir():
                found.update(int(p.name) for p in folder.iterdir() if p.name.isdigit())
        return sorted(found)

    def batch_files(self, table: str, topic: str, partition: int) -> list[Path]:
        """The files of one partition of ``table`` in offset order, each holding rows of its own."""
        return self._batch_files(self.partition_dir(table, topic, partition))

    @staticmethod
    def _batch_files(folder: Path) -> list[Path]:
        """The batch files in ``folder`` in offset order, without any whose range lies inside
        another's: a compaction copied its rows into that one (warehouse/compaction.py)."""
        return _by_range(folder)[0]

    # -- offsets --------------------------------------------------------------------------

    def next_offset(self, topic: str, partition: int) -> int | None:
        """One past the last offset of the partition's events files (the commits); None if it has none."""
        ends = [parse_range(path.name) for path in self._batch_files(self.partition_dir(EVENTS, topic, partition))]
        return max((last + 1 for _, last in filter(None, ends)), default=None)

    def next_offsets(self, topic: str) -> dict[int, int]:
        """Next offset per partition of ``topic`` that has one, read without locking or tidying."""
        found = {partition: self.next_offset(topic, partition) for partition in self.partitions(topic, (EVENTS,))}
        return {partition: offset for partition, offset in found.items() if offset is not None}

    @contextmanager
    def partition_lock(self, topic: str, partition: int) -> Iterator[None]:
        """Exclusive right to read the next offset of one partition and write its files."""
        with writer_lock(self.root / "_locks" / topic / str(partition), on_wait=log.debug):
            yield

    def settle(self, topic: str, partition: int) -> int | None:
        """The partition's next offset, after deleting what crashed writers left (hold its lock).

        Leftovers are temporary files, quarantine files at or beyond the next offset (a batch
        whose quarantine file landed but whose events file, its commit, did not: the batch is
        read again from the next offset and writes its quarantine again), and files whose range
        lies inside another's of the same table (an interrupted compaction's originals).
        """
        next_offset = self.next_offset(topic, partition)
        for table in (EVENTS, QUARANTINE):
            folder = self.partition_dir(table, topic, partition)
            if not folder.is_dir():
                continue
            for path in _by_range(folder)[1]:
                log.info("removing %s, whose rows a compaction copied into a larger file", path)
                path.unlink(missing_ok=True)
            for path in folder.iterdir():
                parsed = parse_range(path.name)
                leftover = (
                    path.name.endswith(TEMPORARY)
                    if parsed is None
                    else table == QUARANTINE and parsed[0] >= (next_offset or 0)
                )
                if leftover:
                    log.info("removing %s, left by an interrupted ingest", path)
                    path.unlink(missing_ok=True)
        return next_offset

    # -- writing --------------------------------------------------------------------------

    def publish(self, con: duckdb.DuckDBPyConnection, query: str, params: Sequence[object], final: Path) -> None:
        """Copy ``query``'s rows into ``final`` as Parquet, whole or not at all, and durably.

        Written under a temporary name in the same folder and fsynced, then renamed (atomic
        within a folder), then the folder is fsynced so that the rename survives a power cut
        before anything that depends on it (the next file of the batch) is written.
        """
        self._make_dirs(final.parent)
        temporary = final.with_name(f".{final.name}.{os.getpid()}{TEMPORARY}")
        try:
            con.execute(f"copy ({query}) to {_sql_string(temporary)} (format parquet, compression zstd)", list(params))
            _fsync(temporary)
            os.replace(temporary, final)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        _fsync(final.parent, directory=True)

    def _make_dirs(self, folder: Path) -> None:
        """Create ``folder`` and its missing parents, each made durable in its parent."""
        missing: list[Path] = []
        while not folder.is_dir():
            missing.append(folder)
            folder = folder.parent
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):  # another writer made it meanwhile
                path.mkdir()
            _fsync(path.parent, directory=True)

    # -- reading --------------------------------------------------------------------------

    def relation(self, table: str, topic: str | None = None, *, with_filename: bool = False) -> str | None:
        """SQL (DuckDB) reading every file of ``table`` (each row's file in ``filename`` if asked),
        or None when it has none yet."""
        files = self.files(table, topic)
        return read_files(files, with_filename=with_filename) if files else None

    def rewrite(self, con: duckdb.DuckDBPyConnection, path: Path, keep: str, params: Sequence[object]) -> None:
        """Replace the batch file ``path`` by its rows where ``keep`` holds, under its name (the
        name carries the offsets the partition resumes from) and its partition's lock, whole or
        not at all (:meth:`publish`)."""
        _, topic, partition = path.parts[-4:-1]
        with self.partition_lock(topic, int(partition)):
            if not path.exists():  # a crashed batch's quarantine file, removed by the partition's next writer
                log.info("%s is gone (left by an interrupted ingest and removed since): nothing to rewrite", path)
                return
            self.publish(con, f"select * from read_parquet({_sql_string(path)}) where {keep}", params, path)


# Where a Spark build keeps its tables (spark.sql.warehouse.dir), beside the raw folders:
# <lake>/warehouse/<schema>.db/<table>/, Parquet that a build then copies into the DuckDB file
# (orchestration/build.py land_spark_tables).
SPARK_TABLES = "warehouse"


def spark_tables(settings: Settings) -> Path:
    return settings.lake / SPARK_TABLES


@contextmanager
def building(settings: Settings, *, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lake's writer lock while Spark rebuilds its tables, as a DuckDB build holds the
    warehouse file's; a lake with no events folder (a mistyped GROWTH_LAKE) is refused, never built."""
    if not (settings.lake / EVENTS).is_dir():
        raise GrowthError(
            f"the lake {settings.lake} has no {EVENTS} folder: run `growth ingest` first (or check GROWTH_LAKE)"
        )
    with writer_lock(spark_tables(settings), on_wait=on_wait):
        # Spark reads every file of a folder: none an interrupted compaction left may be there.
        lake = Lake(settings.lake)
        for topic in sorted({*lake.topics(EVENTS), *lake.topics(QUARANTINE)}):
            for partition in lake.partitions(topic):
                with lake.partition_lock(topic, partition):
                    lake.settle(topic, partition)
        yield


def copy_raw_to_lake(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """The raw events and spend of the DuckDB warehouse ``con`` as files of ``lake``: one file per
    Kafka partition named by its offset range, as the ingester lays them out, and one spend file.
    What a lake ingested from the same topic would hold (a benchmark and the Spark tests build
    both engines from one raw layer this way)."""
    partitions = con.execute(
        "select kafka_topic, kafka_partition, min(kafka_offset), max(kafka_offset) from raw.events group by 1, 2"
    ).fetchall()
    for topic, partition, first, last in partitions:
        lake.publish(
            con,
            "select * replace (payload::varchar as payload) from raw.events "
            "where kafka_topic = ? and kafka_partition = ? order by kafka_offset",
            [topic, partition],
            lake.partition_dir(EVENTS, topic, partition) / range_name(first, last),
        )
    lake.publish(con, "select * from raw.marketing_spend", [], lake.root / SPEND / "spend.parquet")
