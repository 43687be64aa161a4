"""What `growth forget` leaves for ingest: records of forgotten ids that arrive later are not
stored, only counted in raw.deletion_log (ids and counts, never the data).

An event carries an id in its userId, anonymousId or previousId. A quarantined record may not
parse, so it carries an id when its raw bytes contain the id as a JSON string (`"u1"`): the
rule `growth forget` deletes stored quarantined records by, and both writers drop later ones by.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import duckdb

# Whether an event `b` carries an id of raw.forgotten_ids (both writers drop those at ingest).
CARRIES_FORGOTTEN_ID = (
    "exists (select 1 from raw.forgotten_ids f where f.id in (b.user_id, b.anonymous_id, b.previous_id))"
)
# The deletion-log entry of a batch's dropped records: when, which ids, how many events and
# quarantined records.
LOG_DROPPED_AT_INGEST = "insert into raw.deletion_log values (?::timestamptz, 'dropped_at_ingest', null, ?, ?, ?)"


def json_strings(ids: Iterable[str]) -> dict[bytes, str]:
    """Each id as the bytes of the JSON string a record would carry it as."""
    return {json.dumps(id_).encode(): id_ for id_ in ids}


def forgotten_strings(con: duckdb.DuckDBPyConnection) -> dict[bytes, str]:
    """:func:`json_strings` of every id in raw.forgotten_ids."""
    return json_strings(id_ for (id_,) in con.execute("select id from raw.forgotten_ids").fetchall())


def ids_in(value: bytes | None, strings: Mapping[bytes, str]) -> set[str]:
    """The ids whose JSON string the raw bytes ``value`` contain."""
    if value is None:
        return set()
    return {id_ for string, id_ in strings.items() if string in value}
