"""Rebuilds: a second build after late data equals a full refresh; a var change is noticed.

Real `growth build` runs on real DuckDB files; raw rows are inserted straight into
raw.events (the ingester's table) so the test controls ingestion order exactly.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.build import CONTRACT_MARTS, run_build
from warehouse.connection import connect, ensure_raw_schema
from warehouse.settings import Settings

# (message_id, type, event, user_id, anonymous_id, previous_id, timestamp, revenue_raw, campaign_source_raw
#  [, experiment_raw][, {other raw column: value}])
EXPOSED = "Experiment Viewed"
ARM_A, ARM_B = (f'{{"experiment_id": "exp", "variation_id": "{arm}"}}' for arm in "AB")
FIRST = [
    ("u1a", "track", "Signed Up", "u1", None, None, "2026-03-02T10:00:00Z", None, '"google"'),
    ("u1b", "track", "Project Created", "u1", None, None, "2026-03-03T10:00:00Z", None, None),
    ("u1c", "track", "Order Completed", "u1", None, None, "2026-03-20T10:00:00Z", "30", None),
    ("u2a", "track", "Signed Up", "u2", None, None, "2026-03-05T09:00:00Z", None, None),
    ("u2b", "page", None, "u2", None, None, "2026-03-05T09:20:00Z", None, None),
    ("u2c", "page", None, "u2", None, None, "2026-03-05T09:50:00Z", None, None),
    ("x1", "page", None, None, "anon_x", None, "2026-03-01T08:00:00Z", None, '"facebook"', None, {"device_type_raw": "android"}),
    ("x2", "page", None, None, "anon_x", None, "2026-03-04T08:00:00Z", None, None),
    ("gone", "page", None, "u2", None, None, "2026-03-25T09:00:00Z", None, None),
    ("t4a", "track", "Signed Up", "tmp4", None, None, "2026-03-06T10:00:00Z", None, None),
    ("t4b", "page", None, "tmp4", None, None, "2026-03-06T10:10:00Z", None, None),
    # Exposures: anon_x's (stitched to u3 later), u1's and tmp4's (merged into u4 later).
    ("e1", "track", EXPOSED, None, "anon_x", None, "2026-03-01T09:00:00Z", None, None, ARM_B),
    ("e2", "track", EXPOSED, "u1", None, None, "2026-03-02T11:00:00Z", None, None, ARM_A),
    ("e3", "track", EXPOSED, "tmp4", None, None, "2026-03-06T10:15:00Z", None, None, ARM_B),
    # Segment properties: u1's plan, device and account; u2's account and a feature use (at
    # the instant of u2c: same session); tmp4's account (u4's once merged). anon_x's facebook
    # page view (above) was on android.
    ("i1", "identify", None, "u1", None, None, "2026-03-02T09:00:00Z", None, None, None, {"traits_raw": '{"plan": "free"}'}),
    ("u1f", "page", None, "u1", None, None, "2026-03-02T09:30:00Z", None, None, None, {"device_type_raw": "iOS", "country_raw": "de"}),
    ("g1", "group", None, "u1", None, None, "2026-03-03T09:00:00Z", None, None, None, {"group_id": "acme", "traits_raw": '{"name": "Acme"}'}),
    ("g2", "group", None, "u2", None, None, "2026-03-05T09:05:00Z", None, None, None, {"group_id": "acme"}),
    ("u2f", "track", "Automation Created", "u2", None, None, "2026-03-05T09:50:00Z", None, None, None, {"device_type_raw": "desktop"}),
    ("g4", "group", None, "tmp4", None, None, "2026-03-06T10:12:00Z", None, None, None, {"group_id": "globex"}),
]  # fmt: skip
# Arrives later: a late u1 event, a duplicate of u2b with another timestamp (ignored: the
# first copy wins), an identify that stitches anon_x's old page views to u3, u3's signup,
# an alias that merges tmp4 into u4, and u4's page view continuing tmp4's session.
LATER = [
    ("u1d", "page", None, "u1", None, None, "2026-03-10T10:00:00Z", None, None),
    ("u2b", "page", None, "u2", None, None, "2026-03-28T09:00:00Z", None, None),
    ("x3", "identify", None, "u3", "anon_x", None, "2026-03-15T08:00:00Z", None, None),
    ("u3a", "track", "Signed Up", "u3", None, None, "2026-03-15T08:01:00Z", None, None),
    ("u1e", "track", "Order Completed", "u1", None, None, "2026-03-30T10:00:00Z", '"12.50"', None),
    ("t4c", "alias", None, "u4", None, "tmp4", "2026-03-06T10:20:00Z", None, None),
    ("u4a", "page", None, "u4", None, None, "2026-03-06T10:30:00Z", None, None),
    # A late exposure of u2, dated before u1's.
    ("e4", "track", EXPOSED, "u2", None, None, "2026-03-02T09:00:00Z", None, None, ARM_A),
    # Late calls that move users between segments: u1 switches account and gets an earlier
    # plan (trial) and a later one (pro); u2 gets an earlier platform and a feature use.
    ("g1b", "group", None, "u1", None, None, "2026-03-12T09:00:00Z", None, None, None, {"group_id": "globex"}),
    ("i1z", "identify", None, "u1", None, None, "2026-03-01T00:00:00Z", None, None, None, {"traits_raw": '{"plan": "trial"}'}),
    ("i1b", "identify", None, "u1", None, None, "2026-03-12T09:00:00Z", None, None, None, {"traits_raw": '{"plan": "pro"}'}),
    ("u2z", "page", None, "u2", None, None, "2026-03-05T08:00:00Z", None, None, None, {"device_type_raw": "tablet"}),
    ("u2g", "track", "Automation Created", "u2", None, None, "2026-03-05T09:30:00Z", None, None, None),
    # Late group calls without a user (anon_g is never linked) name accounts: acme's later
    # name wins over the stored "Acme", its earlier one does not, and blank names never count.
    ("g5a", "group", None, None, "anon_g", None, "2026-03-04T09:00:00Z", None, None, None, {"group_id": "acme", "traits_raw": '{"name": " Acme Corp "}'}),
    ("g5b", "group", None, None, "anon_g", None, "2026-03-01T09:00:00Z", None, None, None, {"group_id": "acme", "traits_raw": '{"name": "Acme Old"}'}),
    ("g5c", "group", None, None, "anon_g", None, "2026-03-29T09:00:00Z", None, None, None, {"group_id": "acme", "traits_raw": '{"name": "   "}'}),
    ("g5d", "group", None, None, "anon_g", None, "2026-03-29T09:00:00Z", None, None, None, {"group_id": "globex", "traits_raw": '{"name": ""}'}),
]  # fmt: skip


COLUMNS = ("message_id", "type", "event", "user_id", "anonymous_id", "previous_id", "timestamp",
           "revenue_raw", "campaign_source_raw", "experiment_raw")  # fmt: skip


def insert(warehouse: Path, rows: list[tuple[Any, ...]], partition: int, ingested_at: str) -> None:
    with connect(warehouse) as con:
        ensure_raw_schema(con)
        for offset, row in enumerate(rows):
            extra: dict[str, Any] = row[-1] if isinstance(row[-1], dict) else {}
            values = dict(zip(COLUMNS, row[: len(row) - bool(extra)], strict=False)) | extra
            values |= {"payload": "{}", "kafka_topic": "events", "kafka_partition": partition}
            values |= {"kafka_offset": offset, "ingested_at": ingested_at}
            con.execute(
                f"insert into raw.events ({', '.join(values)}) values ({', '.join('?' * len(values))})",
                list(values.values()),
            )


# Compared besides the marts: the experiment statistics the engine reads.
COMPARED = [("marts", mart) for mart in CONTRACT_MARTS] + [
    ("intermediate", "int_experiment_exposures"),
    ("intermediate", "int_experiment_user_outcomes"),
    ("intermediate", "int_experiment_metric_stats"),
    ("intermediate", "int_account_days_active"),
    ("intermediate", "int_user_feature_weeks"),
    ("intermediate", "int_user_feature_firsts"),
    ("intermediate", "int_user_properties"),
    ("intermediate", "int_account_names"),
]


def snapshot(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every compared table's rows, sorted; bookkeeping columns (`_batch_at`: when a row was written) left out."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = {}
        for schema, table in COMPARED:
            columns = [
                name
                for (name,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if not name.startswith("_")
            ]
            rows = con.execute(f"select {', '.join(columns)} from {schema}.{table}").fetchall()
            tables[table] = sorted(rows, key=repr)
        return tables
    finally:
        con.close()


def build_runs(warehouse: Path) -> dict[str, bool]:
    """Whether each incremental model's latest run was a full rebuild (intermediate.incremental_runs)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return dict(
            con.execute(
                "select model, arg_max(is_full, run_at) from intermediate.incremental_runs group by model"
            ).fetchall()
        )
    finally:
        con.close()


INCREMENTAL_MODELS = {
    "stg_segment__events",
    "int_identity_links",
    "int_identity_links_resolved",
    "int_events_attributed",
    "int_user_days_active",
    "int_account_days_active",
    "int_user_facts",
    "fct_sessions",
    "fct_engagement_daily",
    "int_growth_accounting_counts",
    "int_conversion_events",
    "int_experiment_exposures",
    "int_user_feature_weeks",
    "int_user_feature_firsts",
    "int_user_properties",
    "int_account_names",
}


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, list[tuple[Any, ...]]]]:
    settings = Settings(warehouse=tmp_path_factory.mktemp("rebuild") / "warehouse.duckdb")
    insert(settings.warehouse, FIRST, 0, "2026-03-31T00:00:00Z")
    run_build(settings, quiet=True)
    assert build_runs(settings.warehouse) == dict.fromkeys(INCREMENTAL_MODELS, True)
    insert(settings.warehouse, LATER, 1, "2026-04-01T00:00:00Z")
    run_build(settings, quiet=True)
    return settings, snapshot(settings.warehouse)


def full_refresh_of_a_copy(
    settings: Settings, tmp_path: Path, vars: dict[str, Any] | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    copy = Settings(warehouse=tmp_path / "copy.duckdb")
    shutil.copy(settings.warehouse, copy.warehouse)
    run_build(copy, full_refresh=True, vars=vars, quiet=True)
    return snapshot(copy.warehouse)


def test_second_build_is_incremental_and_equals_full_refresh_of_a_copy(
    rebuilt: tuple[Settings, dict[str, list[tuple[Any, ...]]]], tmp_path: Path
) -> None:
    settings, after = rebuilt
    assert build_runs(settings.warehouse) == dict.fromkeys(INCREMENTAL_MODELS, False)
    fresh = full_refresh_of_a_copy(settings, tmp_path)
    for table in after:
        assert after[table] == fresh[table], table


def test_a_raw_deletion_rebuilds_and_equals_full_refresh(
    rebuilt: tuple[Settings, dict[str, list[tuple[Any, ...]]]], tmp_path: Path
) -> None:
    settings, before = rebuilt
    assert ("u2", "2026-03-25") in {(row[1], str(row[4])) for row in before["fct_sessions"]}
    deleted = Settings(warehouse=tmp_path / "deleted.duckdb")
    shutil.copy(settings.warehouse, deleted.warehouse)
    with connect(deleted.warehouse) as con:  # `growth forget`-style deletion of a raw row
        con.execute("delete from raw.events where message_id = 'gone'")
    run_build(deleted, quiet=True)
    # The staged rows no longer match raw.events: everything downstream rebuilds.
    assert build_runs(deleted.warehouse) == dict.fromkeys(INCREMENTAL_MODELS, True)
    after = snapshot(deleted.warehouse)
    assert ("u2", "2026-03-25") not in {(row[1], str(row[4])) for row in after["fct_sessions"]}
    fresh = full_refresh_of_a_copy(deleted, tmp_path)
    for table in after:
        assert after[table] == fresh[table], table


def test_a_late_event_west_of_utc_builds_incrementally_and_equals_full_refresh(tmp_path: Path) -> None:
    """Dates are local: a late event at 05:00Z on 03-04 belongs to 03-03 in Los Angeles."""
    settings = Settings(warehouse=tmp_path / "warehouse.duckdb")
    west = {"reporting_timezone": "America/Los_Angeles"}
    insert(settings.warehouse, FIRST, 0, "2026-03-31T00:00:00Z")
    run_build(settings, vars=west, quiet=True)
    late = [("u1g", "page", None, "u1", None, None, "2026-03-04T05:00:00Z", None, None)]
    insert(settings.warehouse, late, 1, "2026-04-01T00:00:00Z")
    run_build(settings, vars=west, quiet=True)
    assert build_runs(settings.warehouse)["int_user_days_active"] is False
    after = snapshot(settings.warehouse)
    # u1 active on 03-02, 03-03 (two events now) and 03-20, Los Angeles dates.
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        assert con.execute(
            "select activity_date, activity_events, previous_activity_date from intermediate.int_user_days_active "
            "where user_key = 'u1' order by 1"
        ).fetchall() == [
            (date(2026, 3, 2), 2, None),  # u1a and u1f
            (date(2026, 3, 3), 2, date(2026, 3, 2)),
            (date(2026, 3, 20), 1, date(2026, 3, 3)),
        ]
    finally:
        con.close()
    fresh = full_refresh_of_a_copy(settings, tmp_path, vars=west)
    for table in after:
        assert after[table] == fresh[table], table


def test_a_late_earlier_signup_recomputes_the_user_and_equals_full_refresh(tmp_path: Path) -> None:
    """u1's late signup of 03-01 moves signed_up_at: int_user_facts recomputes u1 from all events."""
    settings = Settings(warehouse=tmp_path / "warehouse.duckdb")
    insert(settings.warehouse, FIRST, 0, "2026-03-31T00:00:00Z")
    run_build(settings, quiet=True)
    late = [("u1s", "track", "Signed Up", "u1", None, None, "2026-03-01T10:00:00Z", None, None)]
    insert(settings.warehouse, late, 1, "2026-04-01T00:00:00Z")
    run_build(settings, quiet=True)
    assert build_runs(settings.warehouse)["int_user_facts"] is False
    after = snapshot(settings.warehouse)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        # The google touch (u1a, 03-02 10:00) is now after signing up: direct. Project Created
        # (03-03 10:00) is still within 7 days of 03-01 10:00.
        assert con.execute(
            "select strftime(signed_up_at at time zone 'UTC', '%m-%d %H:%M'), acquisition_channel, "
            "strftime(activated_at at time zone 'UTC', '%m-%d %H:%M') from marts.dim_users where user_key = 'u1'"
        ).fetchall() == [("03-01 10:00", "direct", "03-03 10:00")]
    finally:
        con.close()
    fresh = full_refresh_of_a_copy(settings, tmp_path)
    for table in after:
        assert after[table] == fresh[table], table


def test_a_later_group_call_moves_the_users_days_between_accounts(tmp_path: Path) -> None:
    """u2's later group call moves u2 from acme to globex with u2's whole history: acme loses
    dates (rebuilt from its members' days) and globex gains some before its stored 03-06."""
    settings = Settings(warehouse=tmp_path / "warehouse.duckdb")
    insert(settings.warehouse, FIRST, 0, "2026-03-31T00:00:00Z")
    run_build(settings, quiet=True)
    switch = [
        ("g2b", "group", None, "u2", None, None, "2026-03-26T09:00:00Z", None, None, None, {"group_id": "globex"})
    ]
    insert(settings.warehouse, switch, 1, "2026-04-01T00:00:00Z")
    run_build(settings, quiet=True)
    assert build_runs(settings.warehouse)["int_account_days_active"] is False
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        account_days = con.execute(
            "select account_id, strftime(activity_date, '%m-%d'), strftime(previous_activity_date, '%m-%d'), "
            "strftime(next_activity_date, '%m-%d') from intermediate.int_account_days_active order by 1, 2"
        ).fetchall()
    finally:
        con.close()
    # acme keeps u1's days (03-02, 03-03, 03-20): 03-03 was before u2's first day and
    # now leads to 03-20. globex: u2's 03-05 and 03-25 around tmp4's 03-06.
    assert account_days == [
        ("acme", "03-02", None, "03-03"), ("acme", "03-03", "03-02", "03-20"), ("acme", "03-20", "03-03", None),
        ("globex", "03-05", None, "03-06"), ("globex", "03-06", "03-05", "03-25"), ("globex", "03-25", "03-06", None),
    ]  # fmt: skip
    after = snapshot(settings.warehouse)
    fresh = full_refresh_of_a_copy(settings, tmp_path)
    for table in after:
        assert after[table] == fresh[table], table


def test_late_identity_link_reattributes_old_anonymous_events(
    rebuilt: tuple[Settings, dict[str, list[tuple[Any, ...]]]],
) -> None:
    settings, _ = rebuilt
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        users = dict(
            con.execute("select user_key, acquisition_channel from marts.dim_users order by user_key").fetchall()
        )
        # anon_x's facebook page view of 03-01 now belongs to u3 (earlier than u3's signup).
        assert users == {"u1": "google", "u2": "direct", "u3": "facebook", "u4": "direct"}
        first_seen = con.execute("select first_seen_at from marts.dim_users where user_key = 'u3'").fetchone()
        assert first_seen is not None and str(first_seen[0]).startswith("2026-03-01 08:00:00")
        # u3 active 03-01, 03-04 (stitched pages), 03-15 (signup track); identify is not activity.
        assert con.execute("select activity_events from marts.dim_users where user_key = 'u3'").fetchone() == (3,)
        # u2: u2b keeps its first copy (03-05 09:20), not the duplicate of 03-28.
        last = con.execute("select last_active_at from marts.dim_users where user_key = 'u2'").fetchone()
        assert last is not None and str(last[0]).startswith("2026-03-25 09:00:00")
        # tmp4's signup and page view moved to u4 and, with u4's page view 20 minutes later,
        # form one session of three events; tmp4's old session is gone.
        sessions = con.execute(
            "select user_key, event_count from marts.fct_sessions where user_key in ('u4', 'tmp4')"
        ).fetchall()
        assert sessions == [("u4", 3)]
        # u1's revenue: 30 + "12.50".
        assert con.execute("select lifetime_revenue from marts.dim_users where user_key = 'u1'").fetchone() == (42.5,)
        # No anonymous visitors remain: anon_x was stitched.
        assert con.execute("select sum(anonymous_visitors) from marts.fct_daily_active_users").fetchone() == (0,)
        # Exposures follow their users: anon_x's to u3, tmp4's to u4; u2's late one is counted.
        # (They are no activity: u3's 3 activity events and u4's 3-event session above hold.)
        assignments = con.execute(
            "select user_key, variation_id, strftime(exposed_at at time zone 'UTC', '%m-%d %H:%M') "
            "from marts.fct_experiment_assignments order by user_key"
        ).fetchall()
        assert assignments == [("u1", "A", "03-02 11:00"), ("u2", "A", "03-02 09:00"), ("u3", "B", "03-01 09:00"),
                               ("u4", "B", "03-06 10:15")]  # fmt: skip
    finally:
        con.close()


def test_late_identify_and_group_calls_move_users_between_segments(
    rebuilt: tuple[Settings, dict[str, list[tuple[Any, ...]]]],
) -> None:
    settings, after = rebuilt
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        users = {
            row[0]: row[1:]
            for row in con.execute(
                "select user_key, trait_plan, latest_trait_plan, platform, country, account_id from marts.dim_users"
            ).fetchall()
        }
        # u1: the late trial identify is the earliest, pro the latest; the late group call
        # moves u1 to globex. u2: the late tablet page view is its earliest platform. u3:
        # anon_x's android page view, stitched by the late identify. u4: tmp4's group call,
        # merged by the late alias; no device anywhere, but page views: web.
        assert users == {
            "u1": ("trial", "pro", "ios", "DE", "globex"),
            "u2": (None, None, "tablet", None, "acme"),
            "u3": (None, None, "android", None, None),
            "u4": (None, None, "web", None, "globex"),  # its page view
        }
        accounts = con.execute("select account_id, account_name, users from marts.dim_accounts order by 1").fetchall()
        # acme: " Acme Corp " (03-04, trimmed) is later than "Acme" (03-03); "Acme Old" is
        # earlier and the blank 03-29 one is no name. globex has only a blank name: none.
        assert accounts == [("acme", "Acme Corp", 1), ("globex", None, 2)]
        # Automation Created: the late use (03-05 09:30) adds to the stored one (03-05 09:50)
        # of the week of Monday 03-02.
        feature_weeks = con.execute(
            "select week_start, uses from intermediate.int_user_feature_weeks "
            "where user_key = 'u2' and event_name = 'Automation Created'"
        ).fetchall()
        assert feature_weeks == [(date(2026, 3, 2), 2)]
        # ... and, being earlier, becomes the first use of the week and of the feature.
        firsts = con.execute(
            "select strftime(w.first_used_at at time zone 'UTC', '%m-%d %H:%M'), "
            "strftime(f.first_used_at at time zone 'UTC', '%m-%d %H:%M'), f.first_week_start "
            "from intermediate.int_user_feature_weeks as w join intermediate.int_user_feature_firsts as f "
            "using (user_key, event_name) where user_key = 'u2' and event_name = 'Automation Created'"
        ).fetchall()
        assert firsts == [("03-05 09:30", "03-05 09:30", date(2026, 3, 2))]
        # Account days: u1's late group call moves all of u1's days (03-02, 03-03, 03-20 and
        # the late 03-10, 03-30) from acme to globex, where tmp4's 03-06 is now u4's; acme
        # keeps u2's 03-05 and 03-25 only (the late 03-28 copy of u2b is a duplicate).
        account_days = con.execute(
            "select account_id, strftime(activity_date, '%m-%d'), strftime(previous_activity_date, '%m-%d'), "
            "strftime(next_activity_date, '%m-%d') from intermediate.int_account_days_active order by 1, 2"
        ).fetchall()
        assert account_days == [
            ("acme", "03-05", None, "03-25"), ("acme", "03-25", "03-05", None),
            ("globex", "03-02", None, "03-03"), ("globex", "03-03", "03-02", "03-06"),
            ("globex", "03-06", "03-03", "03-10"), ("globex", "03-10", "03-06", "03-20"),
            ("globex", "03-20", "03-10", "03-30"), ("globex", "03-30", "03-20", None),
        ]  # fmt: skip
    finally:
        con.close()
    # Every user in one segment per dimension: trait_plan has trial and (none) after the move.
    plans = {row[2] for row in after["fct_retention_by_segment"] if row[1] == "trait_plan"}
    assert plans == {"trial", "(none)"}


def test_a_var_change_is_noticed_without_full_refresh(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "warehouse.duckdb")
    insert(settings.warehouse, FIRST, 0, "2026-03-31T00:00:00Z")

    def u2_sessions() -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(settings.warehouse), read_only=True)
        try:
            return con.execute(
                "select session_date, event_count from marts.fct_sessions where user_key = 'u2' order by session_start"
            ).fetchall()
        finally:
            con.close()

    run_build(settings, quiet=True)
    # u2: 09:00, 09:20, 09:50 twice (gaps of 20, 30 and 0 minutes: one session) and 03-25.
    assert [n for _, n in u2_sessions()] == [4, 1]
    run_build(settings, vars={"session_timeout_minutes": 25}, quiet=True)
    # A 25-minute timeout splits at the 30-minute gap.
    assert [n for _, n in u2_sessions()] == [2, 2, 1]
    # UTC+14: u1's signup at 03-02 10:00Z is 03-03 00:00 local, a date shift.
    run_build(settings, vars={"reporting_timezone": "Pacific/Kiritimati"}, quiet=True)
    assert [n for _, n in u2_sessions()] == [4, 1]  # back to the 30-minute default
    assert signup_date(settings, "u1") == date(2026, 3, 3)
    run_build(settings, quiet=True)  # back to the defaults, still without --full-refresh
    assert signup_date(settings, "u1") == date(2026, 3, 2)
    # Fewer traits: int_user_properties (incremental) rebuilds with its new columns.
    run_build(settings, vars={"user_traits": ["plan"]}, quiet=True)
    assert build_runs(settings.warehouse)["int_user_properties"] is True
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        assert con.execute(
            "select column_name from information_schema.columns "
            "where table_name = 'int_user_properties' and column_name like '%trait%' order by 1"
        ).fetchall() == [
            (f"{column}{part}",)
            for column in ("latest_trait_plan", "trait_plan")
            for part in ("", "_at", "_message_id")
        ]  # each value with the instant and messageId it came from; no company_size
        assert con.execute("select trait_plan from marts.dim_users where user_key = 'u1'").fetchone() == ("free",)
    finally:
        con.close()


def signup_date(settings: Settings, user: str) -> date:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        row = con.execute("select signup_date from marts.dim_users where user_key = ?", [user]).fetchone()
        assert row is not None
        return row[0]
    finally:
        con.close()
