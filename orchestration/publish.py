"""`growth publish`: the analyst snapshot, a separate DuckDB file replaced atomically.

Analysts, notebooks and reports never open the warehouse: a reader there would block the
pipeline's writers (DuckDB allows one writing process per file, and no readers beside
it). Instead the marts are copied into a new file next to the snapshot, which then
replaces the old one with a rename. A reader that has the old file open keeps reading the
old inode; the next open sees the new one; nobody ever sees half a snapshot.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ingest.config import Settings
from ingest.errors import GrowthError
from ingest.lock import writer_lock
from ingest.warehouse import connect

log = logging.getLogger(__name__)
PUBLISHED_SCHEMAS = ("marts",)


def publish_snapshot(settings: Settings) -> Path:
    """Copy the marts into a fresh file and swap it in; returns the snapshot path."""
    target = settings.published
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    staging.unlink(missing_ok=True)
    if not settings.warehouse.exists():
        raise GrowthError(f"no warehouse at {settings.warehouse}: ingest and build first")
    with writer_lock(settings.warehouse, on_wait=log.warning), connect(settings.warehouse) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (select unnest(?)) and table_type = 'BASE TABLE' order by 1, 2",
            [list(PUBLISHED_SCHEMAS)],
        ).fetchall()
        if not tables:
            raise GrowthError(f"the warehouse {settings.warehouse} has no marts yet: run `growth build` first")
        con.execute(f"attach '{staging}' as snapshot")
        try:
            for schema in sorted({schema for schema, _ in tables}):
                con.execute(f"create schema snapshot.{schema}")
            for schema, table in tables:
                con.execute(f'create table snapshot.{schema}."{table}" as select * from {schema}."{table}"')
            con.execute(
                "create table snapshot.main.snapshot_info as select now() as published_at, ? as source_warehouse",
                [str(settings.warehouse.resolve())],
            )
        finally:
            con.execute("detach snapshot")
    os.replace(staging, target)
    return target
