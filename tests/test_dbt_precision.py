"""Sub-second timestamps keep their precision through the marts (docs/metrics.md "Numbers").

Timestamps are stored as DuckDB TIMESTAMPTZ, to the microsecond; digits beyond the sixth are
truncated at ingestion. Every expected value below is worked out by hand from the events.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import duckdb
import orjson
import pytest

from ingest.batch import Batch
from ingest.writer import write_batch
from orchestration.build import run_build
from warehouse.settings import Settings


def ev(mid: str, user: str, clock: str, event: str = "Task Added") -> dict[str, Any]:
    return {"messageId": mid, "type": "track", "userId": user, "event": event, "timestamp": f"2026-03-02T{clock}Z"}


EVENTS = [
    ev("a1", "a", "10:00:00"),
    ev("a2", "a", "10:00:00.000001"),  # 1 µs later
    ev("b1", "b", "10:00:00", "Signed Up"),
    ev("b2", "b", "10:00:00.001", "Project Created"),  # 1 ms later: activated
    ev("c1", "c", "10:00:00.5"),
    ev("c2", "c", "10:00:01.499"),  # 999 ms later
    ev("d1", "d", "10:00:00.123456789"),  # stored .123456 (truncated, not rounded to .123457)
    ev("d2", "d", "10:00:00.987654321"),  # stored .987654
    ev("e1", "e", "10:00:00"),
    ev("e2", "e", "10:29:59.999999"),  # 30 min - 1 µs after e1: same session
    ev("e3", "e", "10:59:59.999999"),  # exactly 30 min after e2: same session
    ev("e4", "e", "11:30:00"),  # 30 min + 1 µs after e3: a new session
]


@pytest.fixture(scope="module")
def marts(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    settings = Settings(warehouse=tmp_path_factory.mktemp("precision") / "warehouse.duckdb")
    batch = Batch(datetime(2026, 3, 3, tzinfo=UTC))
    for offset, event in enumerate(EVENTS):
        batch.add("events", 0, offset, orjson.dumps(event))
    write_batch(settings.warehouse, batch)
    assert not batch.rejected_count
    run_build(settings, quiet=True)
    return duckdb.connect(str(settings.warehouse), read_only=True)


def test_digits_beyond_the_microsecond_are_truncated(marts: duckdb.DuckDBPyConnection) -> None:
    stored = marts.execute(
        "select message_id, epoch_us(event_at) % 1000000 from staging.stg_segment__events "
        "where message_id in ('d1', 'd2') order by 1"
    ).fetchall()
    assert stored == [("d1", 123456), ("d2", 987654)]


def test_session_durations_are_exact(marts: duckdb.DuckDBPyConnection) -> None:
    sessions = marts.execute(
        "select user_key, event_count, duration_seconds from marts.fct_sessions order by user_key, session_start"
    ).fetchall()
    # Exact equality: each value is the nearest double to a whole number of microseconds / 1e6.
    assert sessions == [
        ("a", 2, 0.000001),
        ("b", 2, 0.001),
        ("c", 2, 0.999),
        ("d", 2, 0.864198),  # .987654 - .123456
        ("e", 3, 3599.999999),  # e1 .. e3; a gap of exactly the timeout stays in the session
        ("e", 1, 0.0),  # e4, 30 min + 1 µs after e3
    ]


def test_medians_of_durations_and_hours_to_activate_are_exact(marts: duckdb.DuckDBPyConnection) -> None:
    # Six sessions on 03-02: 0, 0.000001, 0.001, 0.864198, 0.999, 3599.999999 -> the middle two.
    [(median_seconds,)] = marts.execute(
        "select median_session_seconds from marts.fct_engagement_daily where session_date = '2026-03-02'"
    ).fetchall()
    assert median_seconds == (0.001 + 0.864198) / 2
    # b is the only activated user: 1 ms after signing up. a, c, d, e signed up at first sight
    # the same day (same day, week and month cohort).
    rows = marts.execute(
        "select grain, cohort_start, median_hours_to_activate from marts.fct_activation order by grain"
    ).fetchall()
    assert rows == [
        ("day", date(2026, 3, 2), 0.001 / 3600),
        ("month", date(2026, 3, 1), 0.001 / 3600),
        ("week", date(2026, 3, 2), 0.001 / 3600),
    ]
