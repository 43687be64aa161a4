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

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from orchestration.pipeline import run_pipeline
from warehouse.connection import writing
from warehouse.errors import GrowthError
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
    """Quarantine keys whose raw bytes contain one of the ids as a JSON string."""
    needles = [json.dumps(i).encode() for i in ids]
    found = []
    for topic, partition, offset, value in con.execute(
        "select kafka_topic, kafka_partition, kafka_offset, raw_value from raw.events_quarantine"
    ).fetchall():
        if value is not None and any(needle in value for needle in needles):
            found.append((topic, partition, offset))
    return found


UNKNOWN_IDS_SQL = """
select id from unnest(?::varchar[]) as requested(id)
where not exists (select 1 from raw.events where id in (user_id, anonymous_id, previous_id))
  and not exists (select 1 from raw.forgotten_ids as forgotten where forgotten.id = requested.id)
"""


def delete_user_data(settings: Settings, user_ids: list[str], *, allow_missing: bool = False) -> ForgetResult:
    """Delete raw rows of the users, record their ids and the request; no rebuild."""
    blank = [repr(i) for i in user_ids if not i.strip()]
    if not user_ids or blank:
        raise GrowthError(f"growth forget needs non-empty user ids (got {', '.join(blank) or 'none'})")
    with writing(settings, on_wait=log.warning) as con:
        unknown = [i for (i,) in con.execute(UNKNOWN_IDS_SQL, [sorted(set(user_ids))]).fetchall()]
        if unknown and not allow_missing:
            raise GrowthError(
                f"no event carries {', '.join(sorted(unknown))} in {settings.warehouse}: nothing deleted "
                "(check the id, or pass --allow-missing to record it anyway)"
            )
        [(had_marts,)] = con.execute(
            "select count(*) > 0 from duckdb_tables() where schema_name = 'marts' and table_name = 'dim_users'"
        ).fetchall()
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
    return ForgetResult(sorted(set(user_ids)), sorted(ids), int(events), len(keys), had_marts=bool(had_marts))


def forget_users(
    settings: Settings, user_ids: list[str], *, rebuild: bool = True, allow_missing: bool = False
) -> ForgetResult:
    """Delete, then run the pipeline again (rebuild, refit, republish) when marts were built."""
    result = delete_user_data(settings, user_ids, allow_missing=allow_missing)
    if rebuild and result.had_marts:
        run_pipeline(settings, full_refresh=True, quiet=True)
        result.rebuilt = True
    return result
