"""The warehouse file: connection settings and the raw-layer schema.

The raw layer is the contract of interface.md. Every writer (ingest, spend load, build,
forget, publish) goes through :func:`connect` so memory limits and the spill directory
are the same everywhere, and through :func:`ingest.lock.writer_lock` so two processes
never write the file at once.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

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
    -- applies the revenue rule of events.md to it, so the rule lives in one place.
    revenue_raw         varchar,
    -- JSON text of context.campaign.{source,medium,name} as sent (null when absent).
    campaign_source_raw varchar,
    campaign_medium_raw varchar,
    campaign_name_raw   varchar,
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

-- `growth forget` (issue #6): ids whose events are deleted and never stored again, and a
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

DEFAULT_MEMORY_LIMIT = "6GB"


def connect(path: Path | str, *, read_only: bool = False, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse with a memory cap and a spill directory next to the file.

    Large builds must spill to disk instead of being killed; the cap is overridable with
    ``GROWTH_DUCKDB_MEMORY_LIMIT`` for bigger or smaller machines, and per connection with
    ``memory_limit`` (the ingester keeps its own, smaller cap).
    """
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    limit = memory_limit or os.environ.get("GROWTH_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
    con.execute(f"set memory_limit = '{limit}'")
    if not read_only:
        spill = path.parent / ".duckdb_tmp"
        con.execute(f"set temp_directory = '{spill}'")
    return con


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw tables if they are missing (idempotent, safe on every start)."""
    con.execute(RAW_SCHEMA_DDL)
