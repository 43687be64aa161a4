"""`growth forget USER_ID...`: delete every event of these users everywhere, and log it.

Which ids belong to a user follows the stitching rules of docs/metrics.md, exactly as the dbt
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
(and are counted in ``raw.deletion_log``). Then the pipeline runs again when marts were
built before: the marts rebuilt (full refresh), the transforms refitted, the analyst
snapshot republished. Running it again finds nothing left and logs a request with zero
counts. An id that was never seen (no event carries it, it was never forgotten) is most
likely mistyped: the request is refused, nothing deleted, unless ``allow_missing``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.forgotten import ids_in, json_strings
from orchestration.pipeline import run_pipeline
from warehouse.connection import writing
from warehouse.errors import GrowthError
from warehouse.lake import (
    DELETION_LOG,
    EVENTS,
    FORGOTTEN,
    QUARANTINE,
    Lake,
    building,
    parse_range,
    raw_in_memory,
    use_lake_tables,
)
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
    had_marts: bool = False


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
    """Quarantine keys whose raw bytes carry one of the ids (ingest/forgotten.py)."""
    strings = json_strings(ids)
    return [
        (topic, partition, offset)
        for topic, partition, offset, value in con.execute(
            "select kafka_topic, kafka_partition, kafka_offset, raw_value from raw.events_quarantine"
        ).fetchall()
        if ids_in(value, strings)
    ]


UNKNOWN_IDS_SQL = """
select id from unnest(?::varchar[]) as requested(id)
where not exists (select 1 from raw.events where id in (user_id, anonymous_id, previous_id))
  and not exists (select 1 from raw.forgotten_ids as forgotten where forgotten.id = requested.id)
"""


HAS_MARTS = "select count(*) > 0 from duckdb_tables() where schema_name = 'marts' and table_name = 'dim_users'"
# Whether a raw event carries one of the ids of the temp table forget_ids (null when it has no
# ids at all: `not` needs a coalesce).
CARRIES_FORGOTTEN_ID = (
    "(user_id in (select id from forget_ids) or anonymous_id in (select id from forget_ids) "
    "or previous_id in (select id from forget_ids))"
)


def delete_user_data(settings: Settings, user_ids: list[str], *, allow_missing: bool = False) -> ForgetResult:
    """Delete raw rows of the users, record their ids and the request; no rebuild."""
    blank = [repr(i) for i in user_ids if not i.strip()]
    if not user_ids or blank:
        raise GrowthError(f"growth forget needs non-empty user ids (got {', '.join(blank) or 'none'})")
    if settings.uses_lake:
        return _delete_from_lake(settings, user_ids, allow_missing=allow_missing)
    with writing(settings, on_wait=log.warning) as con:
        _refuse_unknown(con, user_ids, allow_missing, where=settings.warehouse)
        [(had_marts,)] = con.execute(HAS_MARTS).fetchall()
        con.begin()
        try:
            ids = _forget_ids(con, user_ids)
            [(events,)] = con.execute(f"delete from raw.events where {CARRIES_FORGOTTEN_ID}").fetchall()
            keys = _quarantined_with(con, ids)
            if keys:
                con.executemany(
                    "delete from raw.events_quarantine where kafka_topic = ? and kafka_partition = ? "
                    "and kafka_offset = ?",
                    keys,
                )
            _record_ids(con, user_ids, ids)
            _record_request(con, user_ids, ids, int(events), len(keys))
            con.execute("drop table forget_ids")
            con.commit()
        except BaseException:
            con.rollback()
            raise
    return ForgetResult(sorted(set(user_ids)), sorted(ids), int(events), len(keys), had_marts=bool(had_marts))


def _refuse_unknown(con: duckdb.DuckDBPyConnection, user_ids: list[str], allow_missing: bool, where: Path) -> None:
    """Refuse ids no event carries that were never forgotten (most likely mistyped), unless ``allow_missing``."""
    unknown = [i for (i,) in con.execute(UNKNOWN_IDS_SQL, [sorted(set(user_ids))]).fetchall()]
    if unknown and not allow_missing:
        raise GrowthError(
            f"no event carries {', '.join(sorted(unknown))} in {where}: nothing deleted "
            "(check the id, or pass --allow-missing to record it anyway)"
        )


def _forget_ids(con: duckdb.DuckDBPyConnection, user_ids: list[str]) -> set[str]:
    """The ids linked to the users, also as the temp table forget_ids that CARRIES_FORGOTTEN_ID reads."""
    ids = linked_ids(con, user_ids)
    con.execute("create temp table forget_ids as select unnest(?::varchar[]) as id", [sorted(ids)])
    return ids


def _record_ids(con: duckdb.DuckDBPyConnection, user_ids: list[str], ids: set[str]) -> datetime:
    """Add the ids not yet forgotten to raw.forgotten_ids (ingest drops their later events); their instant."""
    now = datetime.now(UTC)
    con.executemany(
        "insert into raw.forgotten_ids values (?, ?, ?) on conflict (id) do nothing",
        [(i, ",".join(sorted(set(user_ids))), now) for i in sorted(ids)],
    )
    return now


def _record_request(
    con: duckdb.DuckDBPyConnection, user_ids: list[str], ids: set[str], events: int, quarantined: int
) -> None:
    """Log the request in raw.deletion_log: ids and counts, never event data."""
    con.execute(
        "insert into raw.deletion_log values (?, 'forget', ?, ?, ?, ?)",
        [datetime.now(UTC), sorted(set(user_ids)), sorted(ids), events, quarantined],
    )


def _delete_from_lake(settings: Settings, user_ids: list[str], *, allow_missing: bool) -> ForgetResult:
    """The spark engine's raw layer is the lake: each file holding a row of the users is rewritten
    without it, under its own name (which carries the offsets ingest resumes from).

    Under the lake's lock (no Spark build reads a half-forgotten lake, no second request runs
    meanwhile), in this order: the ids first, as a forgotten-ids file, so that an ingester
    storing a batch from then on drops their events (it reads the ids under the partition's
    lock, :mod:`ingest.lake`); then the files, each under its partition's lock; then the
    request's deletion-log entry. A request interrupted halfway is completed by running it
    again. The marts are in the warehouse file, where the last Spark build landed them.
    """
    lake = Lake(settings.lake)
    with building(settings, on_wait=log.warning), raw_in_memory(settings.memory_limit) as con:
        use_lake_tables(con, lake)
        _refuse_unknown(con, user_ids, allow_missing, where=settings.lake)
        ids = _forget_ids(con, user_ids)
        recorded_at = _record_ids(con, user_ids, ids)
        new_ids = "select * from raw.forgotten_ids where forgotten_at = ?"
        if con.execute(f"select count(*) from ({new_ids})", [recorded_at]).fetchall()[0][0]:
            lake.publish(con, new_ids, [recorded_at], lake.entry_file(FORGOTTEN))
        events = 0
        relation = lake.relation(EVENTS, with_filename=True)
        hits = (
            con.execute(f"select filename, count(*) from {relation} where {CARRIES_FORGOTTEN_ID} group by 1").fetchall()
            if relation
            else []
        )
        for filename, count in hits:
            lake.rewrite(con, Path(filename), f"not coalesce({CARRIES_FORGOTTEN_ID}, false)", [])
            events += int(count)
        keys = _quarantined_with(con, ids)
        for path in lake.files(QUARANTINE):
            topic, partition, (first, last) = path.parts[-3], int(path.parts[-2]), parse_range(path.name) or (0, -1)
            offsets = [o for t, p, o in keys if (t, p) == (topic, partition) and first <= o <= last]
            if offsets:
                lake.rewrite(con, path, "kafka_offset <> all (?::bigint[])", [offsets])
        _record_request(con, user_ids, ids, events, len(keys))
        lake.publish(con, "select * from raw.deletion_log", [], lake.entry_file(DELETION_LOG))
    had_marts = False
    if settings.warehouse.exists():
        with writing(settings, on_wait=log.warning) as warehouse:
            [(had_marts,)] = warehouse.execute(HAS_MARTS).fetchall()
    return ForgetResult(sorted(set(user_ids)), sorted(ids), events, len(keys), had_marts=bool(had_marts))


def forget_users(
    settings: Settings, user_ids: list[str], *, rebuild: bool = True, allow_missing: bool = False
) -> ForgetResult:
    """Delete, then run the pipeline again (rebuild, refit, republish) when marts were built."""
    result = delete_user_data(settings, user_ids, allow_missing=allow_missing)
    if rebuild and result.had_marts:
        run_pipeline(settings, full_refresh=True, quiet=True)
        result.rebuilt = True
    return result
