"""The anomaly rule of delivery.md ("Monitors and alerts") on hand-made series, values worked
out by hand in the comments; seeded simulations with known truth; and the monitors on a
tiny hand-made warehouse (only the columns they read). No Kafka, no dbt, a few seconds."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pytest

from delivery.anomaly import (
    Alert,
    Bounds,
    Moved,
    Series,
    baseline,
    judge,
    mad_spread,
    same_weekday_history,
    what_moved,
)
from delivery.monitors import check, check_warehouse, evaluate, monitor_config
from warehouse.errors import ConfigError, GrowthError
from warehouse.settings import Settings

DAY = date(2026, 3, 4)  # a Wednesday; its history is the Wednesdays 2026-02-25 ... 2026-01-07


def weeks_before(day: date, values: Sequence[float | None], today: float | None = None) -> dict[date, float | None]:
    """``values[0]`` at ``day - 7``, ``values[1]`` at ``day - 14``, ...; ``today`` at ``day``."""
    series: dict[date, float | None] = {day - timedelta(days=7 * (k + 1)): v for k, v in enumerate(values)}
    if today is not None:
        series[day] = today
    return series


# --- history, expected value and spread -------------------------------------------------


def test_history_is_the_same_weekday_of_the_previous_eight_weeks() -> None:
    # Every day from DAY - 70 to DAY holds its distance from DAY in days: the history must be
    # exactly 7, 14, ..., 56 (not DAY itself, not DAY - 63, no other weekday).
    series = {DAY - timedelta(days=n): float(n) for n in range(71)}
    assert same_weekday_history(series, DAY) == [7.0, 14.0, 21.0, 28.0, 35.0, 42.0, 49.0, 56.0]


def test_missing_null_and_nan_weeks_are_not_present() -> None:
    series = weeks_before(DAY, [5.0, None, math.nan, 6.0, 7.0])
    series.pop(DAY - timedelta(days=7))  # week 1 missing altogether
    assert same_weekday_history(series, DAY) == [6.0, 7.0]


def test_weekly_pattern_does_not_alarm_on_its_weekend_dip() -> None:
    # Weekdays ~100, weekends ~40, for 9 weeks. Saturday 2026-03-07's history (the 8
    # Saturdays before): 38 40 41 39 40 42 40 39 -> sorted 38 39 39 40 40 40 41 42, median
    # (40+40)/2 = 40; |x - 40| = 2 0 1 1 0 2 0 1 -> sorted 0 0 0 1 1 1 2 2, MAD 1, 1.4826 x 1
    # = 1.4826; floors 5% x 40 = 2 and 1 -> spread 2; range 40 +- 6 = 34 .. 46.
    saturday = date(2026, 3, 7)
    saturdays = [38.0, 40.0, 41.0, 39.0, 40.0, 42.0, 40.0, 39.0]
    series: dict[date, float | None] = {}
    for n in range(1, 64):
        d = saturday - timedelta(days=n)
        series[d] = 40.0 if d.weekday() >= 5 else 100.0 + (n % 3)
    series.update(weeks_before(saturday, saturdays, today=40.0))
    verdict = judge(series, saturday, count=True)
    assert verdict is not None
    assert (verdict.expected, verdict.spread, verdict.low, verdict.high) == (40.0, 2.0, 34.0, 46.0)
    assert not verdict.anomalous
    # The same Saturday at the weekday level is an anomaly (a median over all days would
    # have expected ~100 and flagged every normal weekend instead).
    series[saturday] = 100.0
    verdict = judge(series, saturday, count=True)
    assert verdict is not None and verdict.anomalous and verdict.direction == "up"


def test_mad_spread_by_hand() -> None:
    # 90 100 100 110 100 90 110 100: median 100; |x - 100| = 10 0 0 10 0 10 10 0 -> sorted
    # 0 0 0 0 10 10 10 10, median 5; 1.4826 x 5 = 7.413.
    assert mad_spread([90, 100, 100, 110, 100, 90, 110, 100]) == pytest.approx(7.413)


def test_spread_floored_at_five_percent_of_expected() -> None:
    # A flat history of 200: MAD 0, so the spread is 5% x 200 = 10 (not 0): range 170 .. 230.
    series = weeks_before(DAY, [200.0] * 8)
    base = baseline(series, DAY, count=False)
    assert base is not None and (base.expected, base.spread, base.history_size) == (200.0, 10.0, 8)
    # Also for a negative expected value (net revenue after refunds): 5% of |-200|.
    base = baseline(weeks_before(DAY, [-200.0] * 8), DAY, count=False)
    assert base is not None and base.spread == 10.0


def test_quiet_count_series_does_not_alarm_on_one_event() -> None:
    # Eight weeks of 0: expected 0, MAD 0, 5% of 0 = 0, count floor 1 -> spread 1, range
    # -3 .. 3. One event: |1 - 0| = 1 > 3? no. Two: 2 > 3? no. Three: 3 > 3? no (strict).
    # Four: 4 > 3, an alert.
    for events, alarm in [(1, False), (2, False), (3, False), (4, True)]:
        verdict = judge(weeks_before(DAY, [0.0] * 8, today=float(events)), DAY, count=True)
        assert verdict is not None and (verdict.low, verdict.high) == (-3.0, 3.0)
        assert verdict.anomalous is alarm, events


def test_quiet_ratio_series_has_no_count_floor() -> None:
    # A ratio monitor (quarantine share) has no floor at 1: eight weeks of 0 give spread 0,
    # and any share above 0 is beyond 3 x 0 (delivery.md floors only count monitors at 1).
    verdict = judge(weeks_before(DAY, [0.0] * 8, today=0.001), DAY, count=False)
    assert verdict is not None and verdict.spread == 0.0 and verdict.anomalous
    verdict = judge(weeks_before(DAY, [0.0] * 8, today=0.0), DAY, count=False)
    assert verdict is not None and not verdict.anomalous


def test_fewer_than_four_weeks_give_no_verdict() -> None:
    assert judge(weeks_before(DAY, [10.0, 12.0, 14.0], today=100.0), DAY, count=True) is None
    # Four present among eight weeks, the others missing or null, are enough.
    assert judge(weeks_before(DAY, [10.0, None, 12.0, None, 14.0, 16.0], today=100.0), DAY, count=True)
    # No value on the day itself: nothing to judge.
    assert judge(weeks_before(DAY, [10.0] * 8), DAY, count=True) is None


def test_exactly_four_weeks_give_a_verdict_by_hand() -> None:
    # 10 12 14 16: median (12+14)/2 = 13; |x - 13| = 3 1 1 3 -> median 2; 1.4826 x 2 =
    # 2.9652; floors 0.65 and 1 -> spread 2.9652; 3 x 2.9652 = 8.8956: range 4.1044 ..
    # 21.8956. 21 is inside, 22 above.
    verdict = judge(weeks_before(DAY, [10.0, 12.0, 14.0, 16.0], today=21.0), DAY, count=True)
    assert verdict is not None and verdict.history_size == 4
    assert verdict.expected == 13.0
    assert verdict.spread == pytest.approx(2.9652)
    assert (verdict.low, verdict.high) == (pytest.approx(4.1044), pytest.approx(21.8956))
    assert not verdict.anomalous
    verdict = judge(weeks_before(DAY, [10.0, 12.0, 14.0, 16.0], today=22.0), DAY, count=True)
    assert verdict is not None and verdict.anomalous and verdict.direction == "up"


def test_threshold_edges_are_strict() -> None:
    # Flat 200 (spread 10, see above): 3 spreads is 30. 230 and 170 are exactly 3 spreads
    # away: not anomalous; 230.01 and 169.99 are.
    flat = [200.0] * 8
    for value, alarm in [(230.0, False), (170.0, False), (230.01, True), (169.99, True)]:
        verdict = judge(weeks_before(DAY, flat, today=value), DAY, count=False)
        assert verdict is not None and verdict.anomalous is alarm, value
    # Another threshold (GROWTH_ALERT_THRESHOLD): 2 spreads = 20, so 220 is normal, 221 not.
    for value, alarm in [(220.0, False), (221.0, True)]:
        verdict = judge(weeks_before(DAY, flat, today=value), DAY, count=False, threshold=2.0)
        assert verdict is not None and verdict.anomalous is alarm, value


def test_threshold_on_a_mad_spread() -> None:
    # History of test_mad_spread_by_hand (money): expected 100, spread 7.413 (above the 5
    # floor), 3 x 7.413 = 22.239: range 77.761 .. 122.239.
    history = [90.0, 100.0, 100.0, 110.0, 100.0, 90.0, 110.0, 100.0]
    outcomes = {122.0: None, 123.0: "up", 78.0: None, 77.0: "down"}
    for value, direction in outcomes.items():
        verdict = judge(weeks_before(DAY, history, today=value), DAY, count=False)
        assert verdict is not None
        assert verdict.low == pytest.approx(77.761) and verdict.high == pytest.approx(122.239)
        assert (verdict.direction if verdict.anomalous else None) == direction, value


def test_direction() -> None:
    flat = [50.0] * 8
    drop = judge(weeks_before(DAY, flat, today=10.0), DAY, count=True)
    rise = judge(weeks_before(DAY, flat, today=90.0), DAY, count=True)
    assert drop is not None and drop.anomalous and drop.direction == "down"
    assert rise is not None and rise.anomalous and rise.direction == "up"


def test_fixed_bounds() -> None:
    quarantine_max = Bounds(maximum=0.05)
    # Too little history for the rule, but the fixed bound still judges: 0.06 > 0.05.
    verdict = judge(weeks_before(DAY, [0.01, 0.02], today=0.06), DAY, count=False, bounds=quarantine_max)
    assert verdict is not None and verdict.anomalous and verdict.out_of_bounds and not verdict.out_of_range
    assert verdict.expected is None and verdict.low is None and verdict.direction == "up"
    # A value equal to the bound is inside it.
    verdict = judge(weeks_before(DAY, [0.01, 0.02], today=0.05), DAY, count=False, bounds=quarantine_max)
    assert verdict is not None and not verdict.anomalous
    # With history: 95 is inside the rule's range (flat 100, spread 5: 85 .. 115) but below
    # a minimum of 98; the direction is against the expected value: down.
    verdict = judge(weeks_before(DAY, [100.0] * 8, today=95.0), DAY, count=False, bounds=Bounds(minimum=98.0))
    assert verdict is not None and verdict.anomalous and not verdict.out_of_range and verdict.direction == "down"
    with pytest.raises(ValueError, match="above maximum"):
        Bounds(minimum=2.0, maximum=1.0)


# --- what moved -------------------------------------------------------------------------


def steady(expected: float, today: float) -> Series:
    """A segment whose eight previous weeks all hold ``expected``."""
    return weeks_before(DAY, [expected] * 8, today=today)


def test_what_moved_lists_the_largest_moves_in_the_direction_of_the_anomaly() -> None:
    segments: dict[tuple[str, str], Series] = {
        ("acquisition_channel", "google"): steady(50, 10),  # -40
        ("acquisition_channel", "direct"): steady(30, 25),  # -5
        ("platform", "web"): steady(60, 30),  # -30
        ("platform", "ios"): steady(20, 24),  # +4
        ("trait_plan", "free"): steady(40, 20),  # -20
        ("trait_plan", "pro"): steady(5, 5),  # 0: never listed
        ("trait_plan", "team"): weeks_before(DAY, [50, 50, 50], today=0),  # 3 weeks: no expected
    }
    down = what_moved(segments, DAY, "down")
    assert [(m.dimension, m.segment, m.change) for m in down] == [
        ("acquisition_channel", "google", -40.0),
        ("platform", "web", -30.0),
        ("trait_plan", "free", -20.0),
    ]  # direct (-5) is the fourth: cut at three
    up = what_moved(segments, DAY, "up")
    assert up == [Moved("platform", "ios", 24.0, 20.0)]  # only one segment rose


def test_what_moved_uses_each_segments_own_weekday_median_and_breaks_ties_by_name() -> None:
    # b's history 10 10 10 10 30 30 30 30: median (10+30)/2 = 20, today 14 -> -6; a's flat
    # 26, today 20 -> -6 too: the tie goes to a (name order).
    segments: dict[tuple[str, str], Series] = {
        ("channel", "b"): weeks_before(DAY, [10, 10, 10, 10, 30, 30, 30, 30], today=14),
        ("channel", "a"): steady(26, 20),
    }
    assert [(m.segment, m.expected, m.change) for m in what_moved(segments, DAY, "down")] == [
        ("a", 26.0, -6.0),
        ("b", 20.0, -6.0),
    ]


def test_alert_states_monitor_date_value_range_direction_and_what_moved() -> None:
    verdict = judge(weeks_before(DAY, [200.0] * 8, today=80.0), DAY, count=True)
    assert verdict is not None
    alert = Alert("signups", "Daily signups", "count", verdict, (Moved("acquisition_channel", "google", 10, 130),))
    assert alert.key == "alert:signups:2026-03-04" and alert.date == DAY and alert.direction == "down"
    assert alert.to_dict() == {
        "key": "alert:signups:2026-03-04",
        "monitor": "signups",
        "label": "Daily signups",
        "kind": "count",
        "date": "2026-03-04",
        "value": 80.0,
        "expected": 200.0,
        "expected_range": [170.0, 230.0],
        "threshold": 3.0,
        "bounds": None,
        "direction": "down",
        "what_moved": [{"dimension": "acquisition_channel", "segment": "google", "value": 10, "expected": 130}],
    }
    assert alert.summary() == (
        "Daily signups on 2026-03-04: 80, expected 200 (170 - 230), down; "
        "what moved: acquisition_channel=google 10 vs 130 (-120)"
    )


# --- seeded simulations with known truth ------------------------------------------------

WEEKLY = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.6])  # Monday .. Sunday: quieter weekends
START = date(2026, 1, 5)  # a Monday
HISTORY_DAYS = 56
WINDOW = 90  # days judged after the first 8 weeks


def daily(values: np.ndarray) -> dict[date, float | None]:
    return {START + timedelta(days=i): float(v) for i, v in enumerate(values)}


def poisson_days(rng: np.random.Generator, weekday_level: float) -> np.ndarray:
    days = np.arange(HISTORY_DAYS + WINDOW)
    return rng.poisson(weekday_level * WEEKLY[days % 7])


def false_alarms(values: np.ndarray) -> list[date]:
    series = daily(values)
    judged = [START + timedelta(days=HISTORY_DAYS + i) for i in range(WINDOW)]
    return [d for d in judged if (v := judge(series, d, count=True)) is not None and v.anomalous]


def test_normal_dau_level_series_raise_at_most_one_false_alarm_per_90_days() -> None:
    # DAU of a few thousand (Poisson 3,000 on weekdays, 1,800 at weekends): the noise (sd
    # ~55) is far inside 3 x the 5% floor (3 x 150), so no seed comes near an alarm.
    for seed in range(5):
        alarms = false_alarms(poisson_days(np.random.default_rng(seed), 3000))
        assert len(alarms) <= 1, (seed, alarms)


@pytest.mark.xfail(
    strict=True,
    reason="delivery.md's rule at threshold 3 cannot keep to 1 false alarm per 90 days at signup levels: "
    "the spread is estimated from 8 values, so (x - median) / (1.4826 x MAD) is heavy-tailed "
    "(P > 3 is ~7% for normal noise, ~2.9 alarms per 90 days at Poisson 200, ~6.4 at Poisson 22); "
    "docs/delivery.md, 'False alarms'",
)
def test_normal_signup_level_series_raise_at_most_one_false_alarm_per_90_days() -> None:
    for seed in range(5):
        alarms = false_alarms(poisson_days(np.random.default_rng(seed), 200))
        assert len(alarms) <= 1, (seed, alarms)


CHANNELS = {"google": 140.0, "direct": 40.0, "facebook": 20.0}  # weekday signups per channel
PLATFORMS = {"web": 0.5, "ios": 0.3, "android": 0.2}  # independent of the channel


def test_planted_signup_drop_is_detected_on_its_day_with_its_segment_first() -> None:
    # 200 signups on weekdays, 120 at weekends, over three channels and three platforms. On
    # one Thursday 6 in 7 google signups are lost (google -86%, all signups about -60%):
    # the total falls ~120 below its expected ~200 (spread ~14, 3 spreads ~42), google
    # about 120 below its own (~140), web only about 60 below its own.
    incident = HISTORY_DAYS + 38  # a Thursday
    for seed in range(1, 6):
        rng = np.random.default_rng(seed)
        days = np.arange(HISTORY_DAYS + WINDOW)
        # counts[day, channel, platform]
        counts = np.stack(
            [
                [rng.multinomial(n, list(PLATFORMS.values())) for n in rng.poisson(level * WEEKLY[days % 7])]
                for level in CHANNELS.values()
            ],
            axis=1,
        )
        counts[incident, 0, :] = rng.binomial(counts[incident, 0, :], 1 / 7)
        day = START + timedelta(days=incident)
        assert day.weekday() == 3
        verdict = judge(daily(counts.sum(axis=(1, 2))), day, count=True)
        assert verdict is not None and verdict.anomalous and verdict.direction == "down", seed
        segments: Mapping[tuple[str, str], Series] = {
            ("acquisition_channel", name): daily(counts[:, c, :].sum(axis=1)) for c, name in enumerate(CHANNELS)
        } | {("platform", name): daily(counts[:, :, p].sum(axis=1)) for p, name in enumerate(PLATFORMS)}
        moved = what_moved(segments, day, verdict.direction)
        assert (moved[0].dimension, moved[0].segment) == ("acquisition_channel", "google"), (seed, moved)
        assert moved[0].change < -90, (seed, moved)


# --- the monitors on a hand-made warehouse ----------------------------------------------

END = DAY + timedelta(days=1)  # data_end_date: DAY is the last complete day
FIRST = DAY - timedelta(days=62)


def hand_made_warehouse(con: duckdb.DuckDBPyConnection, *, with_segments: bool = True) -> None:
    """Nine weeks up to DAY. Signups: 10 a day (6 google + 4 direct; 5 web + 5 ios), but 2
    on DAY (both direct, web). DAU 20 every day. Revenue: user r (google, web) pays 100 a
    day, nothing on DAY; an anonymous 1,000 on DAY does not count. Activation: 0.5 for
    every complete daily cohort, 0.1 for the latest one (DAY - 6). Quarantine: none."""
    literals = {"$day": DAY, "$end": END, "$first": FIRST}
    script = """
        create schema marts; create schema intermediate; create schema raw;
        create table intermediate.int_reporting_period as select $end as data_end_date;
        create table marts.fct_daily_active_users as
            select cast(d as date) as activity_date, 20 as dau, case when d = $day then 2 else 10 end as new_users
            from range($first, $end + 1, interval 1 day) as t(d);
        create table marts.dim_users as
            select activity_date || '/' || n as user_key, activity_date as signup_date,
                   case when activity_date = $day or n >= 6 then 'direct' else 'google' end as acquisition_channel,
                   case when activity_date = $day or n < 5 then 'web' else 'ios' end as platform
            from marts.fct_daily_active_users, range(10) as t(n) where n < new_users
            union all select 'r', $first, 'google', 'web';
        create table intermediate.int_user_days_active as select user_key, signup_date as activity_date
            from marts.dim_users;
        create table intermediate.int_conversion_events as
            select 'r' as user_key, activity_date as event_date, 100.0 as revenue
            from marts.fct_daily_active_users where activity_date <> $day
            union all select null, $day, 1000.0
            union all select 'r', $day, null;
        create table marts.fct_activation as
            select 'day' as grain, activity_date as cohort_start,
                   case when activity_date = $end - 7 then 0.1 else 0.5 end as activation_rate,
                   activity_date + 7 <= $end as is_complete
            from marts.fct_daily_active_users
            union all select 'week', $day, 0.0, true;
        create table raw.events as
            select timezone('UTC', d::timestamp + interval 1 hour * n) as ingested_at
            from range($first, $end + 1, interval 1 day) as t(d), range(10) as u(n);
        create table raw.events_quarantine (quarantined_at timestamptz);
        """
    for name, value in literals.items():
        script = script.replace(name, f"date '{value}'")
    con.execute(script)
    if with_segments:
        con.execute(
            """
            create table intermediate.int_user_segments as
                select user_key, 'acquisition_channel' as dimension, acquisition_channel as segment from marts.dim_users
                union all select user_key, 'platform', platform from marts.dim_users
            """
        )


def test_monitors_on_a_hand_made_warehouse() -> None:
    con = duckdb.connect()
    hand_made_warehouse(con)
    checked = {item.monitor.name: item for item in check_warehouse(con)}
    assert {name: item.day for name, item in checked.items()} == {
        "signups": DAY,
        "dau": DAY,
        "revenue": DAY,
        "activation_rate": END - timedelta(days=7),  # the latest cohort whose window is over
        "quarantine_share": DAY,
    }
    # Signups: flat 10 (spread 1, range 7 .. 13), 2 on DAY. Google expected 6, got 0 (-6);
    # ios 5 -> 0 (-5); web 5 -> 2 (-3); direct 4 -> 2 (-2), the fourth: cut.
    signups = checked["signups"].alert
    assert signups is not None and (signups.verdict.value, signups.verdict.expected) == (2.0, 10.0)
    assert [(m.dimension, m.segment, m.change) for m in signups.moved] == [
        ("acquisition_channel", "google", -6.0),
        ("platform", "ios", -5.0),
        ("platform", "web", -3.0),
    ]
    # DAU flat: judged, normal.
    assert checked["dau"].verdict is not None and checked["dau"].alert is None
    # Revenue: 100 a day, 0 on DAY (no row: a day of the calendar without revenue is 0; the
    # anonymous 1,000 and the null revenue are not users' revenue). Range 100 +- 3 x 5.
    revenue = checked["revenue"].alert
    assert revenue is not None and (revenue.verdict.value, revenue.verdict.low) == (0.0, 85.0)
    assert [(m.dimension, m.segment, m.change) for m in revenue.moved] == [
        ("acquisition_channel", "google", -100.0),
        ("platform", "web", -100.0),
    ]
    # Activation: the latest complete cohort, 0.1 against 0.5 (spread 5% x 0.5 = 0.025); a
    # rate names no segments.
    activation = checked["activation_rate"].alert
    assert activation is not None and activation.date == END - timedelta(days=7)
    assert activation.verdict.value == 0.1 and activation.moved == ()
    # Quarantine: 0 of 10 records each day, normal.
    assert checked["quarantine_share"].verdict is not None and checked["quarantine_share"].alert is None
    # A given date: the activation monitor judges that day's cohort, incomplete for DAY.
    on_day = {item.monitor.name: item for item in check_warehouse(con, DAY)}
    assert on_day["activation_rate"].verdict is None and on_day["signups"].alert is not None
    with pytest.raises(GrowthError, match="not a complete day"):
        check_warehouse(con, END)


def test_monitors_without_segment_models_break_down_by_acquisition_channel() -> None:
    con = duckdb.connect()
    hand_made_warehouse(con, with_segments=False)
    [signups] = [item.alert for item in check_warehouse(con) if item.monitor.name == "signups"]
    assert signups is not None
    assert [(m.dimension, m.segment) for m in signups.moved] == [
        ("acquisition_channel", "google"),
        ("acquisition_channel", "direct"),
    ]


def test_evaluate_reads_the_warehouse_file_with_settings(tmp_path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        hand_made_warehouse(con)
        # One quarantined record on DAY among 10 stored: 1/11 against eight weeks of 0.
        con.execute("insert into raw.events_quarantine values ($at)", {"at": datetime(2026, 3, 4, 12)})
    settings = Settings(warehouse=warehouse, tuning={"GROWTH_ALERT_DAU_MIN": "25"})
    alerts = {alert.monitor: alert for alert in evaluate(settings)}
    assert set(alerts) == {"signups", "dau", "revenue", "activation_rate", "quarantine_share"}
    assert alerts["dau"].verdict.out_of_bounds and not alerts["dau"].verdict.out_of_range  # 20 < 25
    # DAU is 20 as expected, so the broken minimum gives the direction: down. What moved reads
    # int_user_days_active, here each user active on their signup day only: as for signups.
    assert alerts["dau"].direction == "down"
    assert [(m.segment, m.change) for m in alerts["dau"].moved] == [("google", -6.0), ("ios", -5.0), ("web", -3.0)]
    assert alerts["quarantine_share"].verdict.value == pytest.approx(1 / 11)


def test_the_quarantine_share_reads_the_lake_on_the_spark_engine(tmp_path) -> None:
    """On the spark engine the raw layer is the lake's files: the monitor reads them, not the
    (empty) raw tables of the warehouse file."""
    warehouse, lake = tmp_path / "warehouse.duckdb", tmp_path / "lake"
    with duckdb.connect(str(warehouse)) as con:
        hand_made_warehouse(con)
        con.execute("insert into raw.events_quarantine values ($at)", {"at": datetime(2026, 3, 4, 12)})
        for table in ("events", "events_quarantine"):
            folder = lake / table / "events" / "0"
            folder.mkdir(parents=True)
            con.execute(f"copy raw.{table} to '{folder / '0-9.parquet'}' (format parquet)")
            con.execute(f"delete from raw.{table}")  # what a Spark build leaves in the file
    spark = Settings(warehouse=warehouse, engine="spark", lake=lake)
    checked = {item.monitor.name: item for item in check(spark, DAY)}
    assert checked["quarantine_share"].verdict.value == pytest.approx(1 / 11)
    assert checked["quarantine_share"].alert is not None
    on_duckdb = {item.monitor.name: item for item in check(Settings(warehouse=warehouse), DAY)}
    assert on_duckdb["quarantine_share"].verdict is None  # the file's raw tables are empty


def test_monitor_config_from_settings() -> None:
    config = monitor_config(
        Settings(tuning={"GROWTH_ALERT_THRESHOLD": "4", "GROWTH_ALERT_QUARANTINE_SHARE_MAX": "0.05"})
    )
    assert config.threshold == 4.0 and config.bounds == {"quarantine_share": Bounds(None, 0.05)}
    assert monitor_config(Settings()).threshold == 3.0
    with pytest.raises(ConfigError, match="GROWTH_ALERT_THRESHOLD"):
        monitor_config(Settings(tuning={"GROWTH_ALERT_THRESHOLD": "0"}))
    with pytest.raises(ConfigError, match="GROWTH_ALERT_SIGNUPS_MIN"):
        monitor_config(Settings(tuning={"GROWTH_ALERT_SIGNUPS_MIN": "9", "GROWTH_ALERT_SIGNUPS_MAX": "3"}))
