"""The warehouse file: connection settings, the raw-layer schema, and the one way to write.

The raw layer is the contract of docs/interface.md. Every writer (ingest, spend load, build,
forget, publish, transforms) enters :func:`writing`: the writer lock (two processes never
write the file at once), a connection with the same memory cap and spill directory
everywhere, and the raw schema in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import duckdb

from warehouse.errors import GrowthError
from warehouse.lock import writer_lock
from warehouse.settings import DEFAULT_MEMORY_LIMIT, Settings

log = logging.getLogger(__name__)

RAW_SCHEMA_DDL = """
create schema if not exists raw;

create table if not exists raw.events (
    message_id          varchar     not null,
    type                varchar     not null,
    event               varchar,
    name                varchar,
    user_id             varchar,
    anonymous_id        varchar,
    previous_id         varchar,
    group_id            varchar,
    timestamp           timestamptz not null,
    -- JSON text of properties.revenue exactly as sent (null when absent); staging
    -- applies the revenue rule of docs/events.md to it, so the rule lives in one place.
    revenue_raw         varchar,
    -- JSON text of context.campaign.{source,medium,name} as sent (null when absent).
    campaign_source_raw varchar,
    campaign_medium_raw varchar,
    campaign_name_raw   varchar,
    -- JSON object of properties.{experiment_id, variation_id, experiment_name,
    -- variation_name} as sent, for track events with an experiment_id (null otherwise).
    experiment_raw      varchar,
    -- JSON text of the top-level traits object as sent, for identify and group events
    -- (null otherwise): the user properties and account names of docs/segments.md.
    traits_raw          varchar,
    -- context.device.type, context.os.name and context.location.country when they are
    -- JSON strings, as sent (untrimmed, "" kept; null when absent or not a string).
    device_type_raw     varchar,
    os_name_raw         varchar,
    country_raw         varchar,
    -- JSON text of the properties object as sent, for track events with revenue_raw (null
    -- otherwise): the billing interval of docs/revenue.md, whose property name is a dbt var.
    properties_raw      varchar,
    -- zstd: JSON text compresses to half the size of DuckDB's automatic choice, and faster.
    payload             json        not null using compression zstd,
    kafka_topic         varchar     not null,
    kafka_partition     integer     not null,
    kafka_offset        bigint      not null,
    ingested_at         timestamptz not null,
    primary key (kafka_topic, kafka_partition, kafka_offset)
);

create table if not exists raw.events_quarantine (
    kafka_topic         varchar     not null,
    kafka_partition     integer     not null,
    kafka_offset        bigint      not null,
    raw_value           blob,
    error_code          varchar     not null,
    error_detail        varchar,
    quarantined_at      timestamptz not null,
    primary key (kafka_topic, kafka_partition, kafka_offset)
);

create table if not exists raw.kafka_offsets (
    topic               varchar     not null,
    partition           integer     not null,
    next_offset         bigint      not null,
    updated_at          timestamptz,
    primary key (topic, partition)
);

create table if not exists raw.marketing_spend (
    spend_date          date        not null,
    channel             varchar     not null,
    campaign            varchar,
    spend               double      not null,
    source_file         varchar     not null,
    source_line         integer     not null,
    loaded_at           timestamptz not null
);
-- The folder a file was loaded from: a same-named file from elsewhere is refused.
alter table raw.marketing_spend add column if not exists source_path varchar;

-- `growth forget`: ids whose events are deleted and never stored again, and a
-- log of each request and of later events dropped at ingest (ids and counts, never data).
create table if not exists raw.forgotten_ids (
    id                  varchar     not null primary key,
    requested_id        varchar     not null,
    forgotten_at        timestamptz not null
);

create table if not exists raw.deletion_log (
    logged_at           timestamptz not null,
    action              varchar     not null,  -- 'forget' or 'dropped_at_ingest'
    requested_ids       varchar[],
    linked_ids          varchar[],
    events_deleted      bigint      not null,
    quarantine_deleted  bigint      not null
);
"""


def connect(path: Path | str, *, read_only: bool = False, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse with a memory cap and a spill directory next to the file.

    Large builds must spill to disk instead of being killed; the cap comes from the
    settings (``GROWTH_DUCKDB_MEMORY_LIMIT``) for bigger or smaller machines, and the
    ingester's writer process keeps its own, smaller one.
    """
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        reason = str(exc).splitlines()[0]
        raise GrowthError(f"cannot open {path} as a DuckDB warehouse: {reason}") from exc
    limit = memory_limit or DEFAULT_MEMORY_LIMIT
    con.execute(f"set memory_limit = '{limit}'")
    if not read_only:
        spill = path.parent / ".duckdb_tmp"
        con.execute(f"set temp_directory = '{spill}'")
    return con


class Backfill(NamedTuple):
    """How a raw.events column added after the table was first made is filled from ``payload``."""

    value: str  # SQL over the row (its payload) giving the value the ingester writes ...
    where: str  # ... for the rows it writes one for (the others stay null)


def _string_at(path: str) -> Backfill:
    """A payload member kept when it is a JSON string, as sent (ingest/validate.py)."""
    return Backfill(f"payload ->> '{path}'", f"json_type(payload, '{path}') = 'VARCHAR'")


# Columns of raw.events that older versions did not have, in the order they came. A warehouse
# ingested before one existed gets it from the payloads once, when it is first opened, so that
# events sent earlier are read like new ones: the values the ingester writes (ingest/validate.py).
# (Only a payload with duplicate keys may differ: orjson keeps a key's last value, DuckDB its
# first.)
RAW_EVENTS_BACKFILLS: dict[str, Backfill] = {
    # The four experiment properties of track events with an experiment_id (absent ones as
    # null here, where the ingester leaves them out: staging reads both as absent).
    "experiment_raw": Backfill(
        """json_object(
            'experiment_id', payload -> '$.properties.experiment_id',
            'variation_id', payload -> '$.properties.variation_id',
            'experiment_name', payload -> '$.properties.experiment_name',
            'variation_name', payload -> '$.properties.variation_name'
        )::varchar""",
        "type = 'track' and json_exists(payload, '$.properties.experiment_id')",
    ),
    "traits_raw": Backfill(
        "(payload -> '$.traits')::varchar",
        "type in ('identify', 'group') and json_type(payload, '$.traits') = 'OBJECT'",
    ),
    "device_type_raw": _string_at("$.context.device.type"),
    "os_name_raw": _string_at("$.context.os.name"),
    "country_raw": _string_at("$.context.location.country"),
    # The properties object of the events that carry a revenue property (revenue_raw), as the
    # ingester keeps it.
    "properties_raw": Backfill("(payload -> '$.properties')::varchar", "revenue_raw is not null"),
}


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw tables if they are missing (idempotent, safe on every start).

    An older warehouse gets the columns of :data:`RAW_EVENTS_BACKFILLS` it lacks, filled.
    """
    con.execute(RAW_SCHEMA_DDL)
    present = {
        name
        for (name,) in con.execute(
            "select column_name from duckdb_columns() where database_name = current_database() "
            "and schema_name = 'raw' and table_name = 'events'"
        ).fetchall()
    }
    missing = [(column, backfill) for column, backfill in RAW_EVENTS_BACKFILLS.items() if column not in present]
    if not missing:
        return
    # One transaction: a column is never there without its values. It goes after the others,
    # which is harmless because every insert into raw.events names its columns.
    con.begin()
    try:
        for column, backfill in missing:
            con.execute(f"alter table raw.events add column {column} varchar")
            con.execute(f"update raw.events set {column} = {backfill.value} where {backfill.where}")
        con.commit()
    except BaseException:
        con.rollback()
        raise


class WarehouseNotFound(GrowthError):
    """The configured path holds no warehouse of this project (a mistyped path, most often)."""


def _require(settings: Settings, *, create: bool) -> None:
    """Checked before the lock, whose file would otherwise create the mistyped folder."""
    if not create and not settings.warehouse.exists():
        raise WarehouseNotFound(
            f"no warehouse at {settings.warehouse}: check GROWTH_WAREHOUSE or --warehouse "
            "(only `growth ingest`, `growth load-spend` and `growth demo` create one)"
        )


def _open(settings: Settings, *, create: bool, memory_limit: str | None) -> duckdb.DuckDBPyConnection:
    """Connect, refusing what is not a warehouse of ours unless the caller may create one.

    Only the commands that bring data in (ingest, load-spend, demo) create a warehouse; a
    build, publish or forget on a mistyped path must fail instead of building empty marts
    that a publish would then hand to every analyst.
    """
    path = settings.warehouse
    con = connect(path, memory_limit=memory_limit or settings.memory_limit)
    if (
        not create
        and not con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = 'events'"
        ).fetchall()[0][0]
    ):
        con.close()
        raise WarehouseNotFound(f"{path} is a DuckDB file but not a growth warehouse (it has no raw.events table)")
    ensure_raw_schema(con)
    return con


@contextmanager
def writing(
    settings: Settings,
    *,
    on_wait: Callable[[str], None] | None = log.info,
    create: bool = False,
    memory_limit: str | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Hold the writer lock, open the warehouse and make sure the raw schema exists.

    The lock is taken before the file is opened: DuckDB lets one process write a file, and
    a second opener would fail instead of queueing.
    """
    _require(settings, create=create)
    with (
        writer_lock(settings.warehouse, on_wait=on_wait),
        _open(settings, create=create, memory_limit=memory_limit) as con,
    ):
        yield con


@contextmanager
def prepared(settings: Settings, *, on_wait: Callable[[str], None] | None = log.info) -> Iterator[None]:
    """Hold the writer lock for a writer in another process (dbt) that opens the file itself."""
    _require(settings, create=False)
    with writer_lock(settings.warehouse, on_wait=on_wait):
        _open(settings, create=False, memory_limit=None).close()
        yield
