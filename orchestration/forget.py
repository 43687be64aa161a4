"""`growth forget USER_ID...`: delete every event of these users everywhere, and log it.

Which ids belong to a user follows the stitching rules of metrics.md, exactly as the dbt
identity models (``int_identity_links``, ``int_identity_links_resolved``) apply them, but
computed here from ``raw.events`` so events ingested since the last build are covered too:

* anon_link[a]  = userId of the earliest event (timestamp, then messageId) carrying
  anonymousId = a and a userId;
* alias_link[p] = userId of the earliest alias event with previousId = p;
* a base id resolves to its user_key by following alias links (at most 10 hops, no cycles).

The forgotten set is every base id resolving to the same user_key as a requested id, every
anonymous / previous id linked to one of those, and the requested ids themselves. Deleted:
raw events carrying any of these ids (userId, anonymousId or previousId) and quarantined
records whose raw bytes contain one of them as a JSON string. The ids go to
``raw.forgotten_ids``, which the ingest writer consults so later events are not stored
(and are counted in ``raw.deletion_log``). Then the marts are rebuilt (full refresh), the
predictive LTV marts refitted when present, and the analyst snapshot republished.
Running it again finds nothing left and logs a request with zero counts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from warehouse.connection import connect, ensure_raw_schema
from warehouse.errors import GrowthError
from warehouse.lock import writer_lock
from warehouse.settings import Settings

log = logging.getLogger(__name__)
MAX_ALIAS_HOPS = 10

LINKS_SQL = """
select 'anonymous' as link_type, anonymous_id as linked_id, arg_min(user_id, (timestamp, message_id)) as user_id
from raw.events
where anonymous_id is not null and user_id is not null
group by anonymous_id
union all
select 'alias', previous_id, arg_min(user_id, (timestamp, message_id))
from raw.events
where type = 'alias' and previous_id is not null and user_id is not null
group by previous_id
"""


@dataclass
class ForgetResult:
    requested_ids: list[str]
    linked_ids: list[str] = field(default_factory=list)
    events_deleted: int = 0
    quarantine_deleted: int = 0
    rebuilt: bool = False  # marts rebuilt and snapshot republished (only when marts exist)


def _resolve(base_id: str, alias: dict[str, str]) -> str:
    """Follow alias links from a base id, at most 10 hops, stopping before a visited id."""
    current, visited = base_id, {base_id}
    for _ in range(MAX_ALIAS_HOPS):
        nxt = alias.get(current)
        if nxt is None or nxt in visited:
            break
        visited.add(nxt)
        current = nxt
    return current


def linked_ids(con: duckdb.DuckDBPyConnection, requested: Iterable[str]) -> set[str]:
    """Every id stitched to the users of ``requested`` (the requested ids included)."""
    requested = set(requested)
    links = con.execute(LINKS_SQL).fetchall()
    alias = {linked: user for kind, linked, user in links if kind == "alias"}
    anonymous = {linked: user for kind, linked, user in links if kind == "anonymous"}
    base_ids = {
        row[0] for row in con.execute("select distinct user_id from raw.events where user_id is not null").fetchall()
    }
    base_ids |= set(alias.values()) | set(anonymous.values()) | requested
    key_of = {base: _resolve(base, alias) for base in base_ids}
    # A requested id may be a user_key, any base id, or an anonymous / previous id.
    targets = {key_of[rid] for rid in requested}
    targets |= {key_of[anonymous[rid]] for rid in requested if rid in anonymous}
    targets |= {key_of[alias[rid]] for rid in requested if rid in alias}
    ids = {base for base, key in key_of.items() if key in targets}
    ids |= {linked for linked, user in (*alias.items(), *anonymous.items()) if user in ids}
    return ids | requested


def _quarantined_with(con: duckdb.DuckDBPyConnection, ids: set[str]) -> list[tuple[str, int, int]]:
    """Quarantine keys whose raw bytes contain one of the ids as a JSON string."""
    needles = [json.dumps(i).encode() for i in ids]
    found = []
    for topic, partition, offset, value in con.execute(
        "select kafka_topic, kafka_partition, kafka_offset, raw_value from raw.events_quarantine"
    ).fetchall():
        if value is not None and any(needle in value for needle in needles):
            found.append((topic, partition, offset))
    return found


def delete_user_data(settings: Settings, user_ids: list[str]) -> ForgetResult:
    """Delete raw rows of the users, record their ids and the request; no rebuild."""
    if not settings.warehouse.exists():
        raise GrowthError(f"no warehouse at {settings.warehouse}: nothing to forget")
    with writer_lock(settings.warehouse, on_wait=log.warning), connect(settings.warehouse) as con:
        ensure_raw_schema(con)
        con.begin()
        try:
            ids = linked_ids(con, user_ids)
            con.execute("create temp table forget_ids as select unnest(?::varchar[]) as id", [sorted(ids)])
            [(events,)] = con.execute(
                """
                delete from raw.events
                where user_id in (select id from forget_ids)
                   or anonymous_id in (select id from forget_ids)
                   or previous_id in (select id from forget_ids)
                """
            ).fetchall()
            keys = _quarantined_with(con, ids)
            if keys:
                con.executemany(
                    "delete from raw.events_quarantine where kafka_topic = ? and kafka_partition = ? "
                    "and kafka_offset = ?",
                    keys,
                )
            now = datetime.now(UTC)
            con.executemany(
                "insert into raw.forgotten_ids values (?, ?, ?) on conflict (id) do nothing",
                [(i, ",".join(sorted(set(user_ids))), now) for i in sorted(ids)],
            )
            con.execute(
                "insert into raw.deletion_log values (?, 'forget', ?, ?, ?, ?)",
                [now, sorted(set(user_ids)), sorted(ids), int(events), len(keys)],
            )
            con.execute("drop table forget_ids")
            con.commit()
        except BaseException:
            con.rollback()
            raise
    return ForgetResult(sorted(set(user_ids)), sorted(ids), int(events), len(keys))


def _has_table(settings: Settings, schema: str, table: str) -> bool:
    with writer_lock(settings.warehouse, on_wait=log.warning), connect(settings.warehouse) as con:
        found = con.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, table]
        ).fetchone()
    return bool(found and found[0])


def forget_users(settings: Settings, user_ids: list[str], *, rebuild: bool = True) -> ForgetResult:
    """Delete, rebuild every mart from what is left, refit predictive LTV, republish."""
    if not user_ids:
        raise GrowthError("growth forget needs at least one user id")
    had_marts = _has_table(settings, "marts", "dim_users") if settings.warehouse.exists() else False
    result = delete_user_data(settings, user_ids)
    if rebuild and had_marts:
        from analysts.publish import publish_snapshot
        from orchestration.build import run_build

        run_build(settings, full_refresh=True, quiet=True)
        if _has_table(settings, "marts", "fct_predicted_ltv"):
            from transforms.predictive_ltv import build_predictive_ltv

            build_predictive_ltv(settings)
        publish_snapshot(settings)
        result.rebuilt = True
    return result
