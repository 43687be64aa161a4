"""Build speed: a realistic raw layer written straight into DuckDB, then `growth build`.

    python benchmarks/build.py [--users 1000000] [--events 50000000]
        [--without-experiments] [--without-segments] [--raw-cache FILE] [--nodes N] [--engine spark]

Writes the raw layer with SQL (no Kafka, so it takes seconds): every user signs up (with a
campaign touch for most), then has activity events in visits over the following 60 days
(12 visits of ~4 events each by default; `--spread` puts every event at its own random
instant instead, nearly one event per session), activations, purchases with revenue,
anonymous page views (stitched by anonymousId), ~1% experiment exposures (5 experiments,
2 variations) and ~1% duplicate retries. Purchases carry the properties object the ingester keeps
for revenue events (docs/revenue.md): the price of the user's plan with `"interval": "month"`,
`"year"` (ten prices) for 10% of users, a plan up for 4% of payments (an upgrade, the next one
back: expansion and contraction), 15% add-ons without an interval and 1% `"weekly"` (unrecognised);
signups name one of two campaigns (5% none) and each channel's daily spend is split over them and
a blank campaign. The segment fragments (docs/segments.md) make the
segment models do real work: one platform per user on every event (a device type:
ios/android/desktop/tablet, 5% of them spelled ` IOS `; ~5% only an OS name, ~3% neither)
and one of 30 countries (~1.5% blank, 3% lowercase); ~1.5 identify events per user with
traits {"plan", "company_size"} (one right after signup for 96% of users, later ones of which
a quarter move one plan up; a few unusable values); a group call right after signup for 70%
of users into accounts of ~2.5 users named "Account N", 4% of members calling again into
another account; product events spread over 25 names with popularity ~1/rank (all used by
well over 1% of users) and 5 rare ones, so the features chosen from the data are 20 of 26
candidates. The identify and group calls take the place of other events, so the count is
the one asked for; the exposures (and signups) are the same events as without them. The
stored payload is a stub (`{}`): no model reads it, and 50M full payloads would only
measure disk. Then it times
  (a) a baseline single pass: distinct (user, date) counts over raw.events (the groups
      stay in DuckDB),
  (b) a full `growth build`,
  (c) one more day of events (~0.5%, timestamps on the day after the history ends) appended,
      then `growth build` again (incremental). The day has the history's shape: visits of
      4 events, each of a random existing user (~60k users for 250k events); with
      `--spread`, every event is a random user's (~220k users: each per-user incremental
      model then rewrites 3.6 times the users),
and prints the times, the slowest nodes, the share of the segment models and their tests in
the summed node times of (b) and of (c) (with what the segment marts hold after (b)), b/a,
c/b and the peak RSS of the dbt processes.

`--engine spark` replaces (b) and (c) by the two engines side by side: the raw layer copied
into a Parquet lake (one file per Kafka partition, as the ingester lays it out), then a full
`growth build` on DuckDB and one on Spark (local, every core, the default 4 GB driver; its
time includes landing the marts in the DuckDB file), each in a process of its own with its
peak RSS (dbt and the JVM included).

`--without-experiments` and `--without-segments` leave those models (and their tests) out of
both builds: compare (b) and (c) with a run without the flag for what they add.
`--without-segments` keeps int_user_properties (dim_users reads it) and the segment columns
of the models every build runs; for the build before the segments existed, run this file
with the code of that commit first on the path:
    git archive 3ec6419^ | tar -x -C /tmp/pre-segments
    PYTHONPATH=/tmp/pre-segments python benchmarks/build.py
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/ingest.py shares its name with the `ingest` package: keep this folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import replace
from typing import Any

from orchestration.build import run_build, target_dir
from orchestration.pipeline import run_experiment_results
from warehouse.connection import connect, ensure_raw_schema
from warehouse.lake import Lake, copy_raw_to_lake
from warehouse.settings import Settings

# The segment fragments (segments.md), fixed per user unless said otherwise.
PLANS = ("free", "starter", "pro", "business")
# ~30 ISO-2 countries, the first the most common (k = floor(31^x) for a uniform x).
COUNTRIES = (
    "US", "GB", "DE", "IN", "FR", "CA", "BR", "AU", "NL", "ES", "JP", "SE", "PL", "MX", "SG",
    "IT", "CH", "BE", "AT", "DK", "NO", "FI", "IE", "PT", "NZ", "IL", "KR", "ZA", "AR", "CZ",
)  # fmt: skip
DEVICE_TYPES = ("ios", "android", "desktop", "tablet")
OS_NAMES = ("iOS", "Android", "Windows", "Mac OS X")
# Track events of the product: 25 names with a popularity of ~1/k (k = floor(26^x)), every
# one used by far more than 1% of users, and 5 rare ones (each ~0.01% of these events,
# used by well under 1% of users), so the automatic selection of features (>= 1% of users,
# the top 20) has 26 candidates with Project Created and keeps 20.
FEATURE_EVENTS = (
    "Task Added", "Task Completed", "Comment Posted", "File Uploaded", "Dashboard Viewed",
    "Search Performed", "Task Assigned", "Due Date Set", "Label Added", "Board Viewed",
    "Report Exported", "Teammate Invited", "Integration Connected", "Filter Saved", "Calendar Viewed",
    "Timeline Viewed", "Template Used", "Automation Created", "Form Submitted", "Goal Created",
    "Message Sent", "Reminder Set", "Attachment Previewed", "Subtask Added", "Tag Created",
)  # fmt: skip
RARE_EVENTS = ("API Key Created", "SSO Configured", "Audit Log Viewed", "Webhook Added", "Data Imported")
MEMBER_PERCENT = 70  # users in a B2B account (a group call at signup)
ACCOUNT_SIZE = 2.2  # members per account id drawn: ~2.5 per account that has any (Poisson)
LATER_IDENTIFIES = 0.54  # per user, besides the one at signup (96% of users): ~1.5 in all
SWITCHES = 0.04  # second group calls per member (to another account)


def sql_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{value}'" for value in values) + "]"


# Each row is one kind of event. The first `users` ids are the signups, the next `users`
# the identify at signup (96% of users) and the next `users` the group call at signup (the
# members); an id of those blocks that holds neither is an ordinary event of its user. Every
# other id is an event of a random user: a page view, an exposure, a purchase, an
# activation, a later identify (LATER_IDENTIFIES per user, a quarter of them on the next
# plan up), a second group call (SWITCHES per member) or a product event. The rates of the
# last two are per million ordinary events ({reidentify_ppm}, {switch_ppm}), so they hold
# at any events per user. An exposure id is one in any block (its random user, time and
# experiment as before the segment fragments existed). `g` draws the segment choices,
# independently of `h`.
EVENTS_SQL = """
insert into raw.events by name
with numbered as (
    select i, hash({visit}) % {users} as u, hash(i * 7 + 3) as h, 0 as kafka_partition
    from range({first}, {last}) as t(i)
    union all
    -- ~1% retries: the same event sent again, read later (partition 1 sorts after 0)
    select i, hash({visit}) % {users}, hash(i * 7 + 3), 1
    from range({first}, {last}) as t(i)
    where hash(i * 7 + 3) % 100 = 42
),
owned as (
    select
        *,
        case
            when i < {users} then i
            -- an exposure stays the event of its random user, in the blocks too
            when h % 11 <> 0 and h % 1000 < 11 then u
            when i < 2 * {users} then i - {users}
            when i < 3 * {users} then i - 2 * {users}
            else u
        end as uid,
        hash(i * 13 + 5) as g
    from numbered
),
kinds as (
    select
        *,
        case
            when i < {users} then 'signup'
            when h % 11 <> 0 and h % 1000 < 11 then 'exposure'
            when i < 2 * {users} and hash(uid * 3 + 1) % 25 <> 0 then 'identify'
            when i >= 2 * {users} and i < 3 * {users} and hash(uid * 31 + 7) % 100 < {member_percent} then 'group'
            when h % 11 = 0 then 'page'
            when h % 97 = 0 then 'order'
            when h % 89 = 0 then 'activation'
            when g % 1000000 < {reidentify_ppm} then 'reidentify'
            when g % 1000000 >= 500000 and g % 1000000 < 500000 + {switch_ppm}
                and hash(uid * 31 + 7) % 100 < {member_percent} then 'switch'
            else 'feature'
        end as kind,
        -- the draws of the event's choices (independent digits of g) ...
        cast(g // 1000000 % 1000000 as integer) as event_draw,
        cast(g // 1000000000000 % 1000000 as integer) as rare_draw,
        -- ... and of its user's: plan (free 50%, starter 25%, pro 17%, business 8%), company
        -- size (log-uniform, 1 to 5,000), platform, device or OS, country, account at signup
        cast(hash(uid * 19 + 2) % 100 as integer) as plan_draw,
        cast(hash(uid * 23 + 4) % 1000 as integer) as size_draw,
        cast(hash(uid * 5 + 1) % 100 as integer) as platform_draw,
        cast(hash(uid * 5 + 2) % 4 as integer) as device_draw,
        cast(hash(uid * 5 + 3) % 20 as integer) as spelling_draw,
        cast(hash(uid * 7 + 3) % 1000 as integer) as country_draw,
        cast(hash(uid * 7 + 4) % 10000 as integer) as country_rank_draw,
        hash(uid * 41 + 11) % {accounts} as account,
        -- the billing of a purchase: the user's interval (10% annual) and the payment's kind
        hash(uid * 43 + 9) % 10 = 0 as pays_yearly,
        cast(hash(i * 17 + 7) % 100 as integer) as payment_draw
    from owned
),
events as (
    select
        *,
        case when plan_draw < 50 then 0 when plan_draw < 75 then 1 when plan_draw < 92 then 2 else 3 end
        -- a quarter of the later identifies move one plan up
        + case when kind = 'reidentify' and event_draw % 4 = 0 then 1 else 0 end as plan_index,
        {device_types}[1 + device_draw] as device_type,
        {countries}[least(30, cast(floor(pow(31, country_rank_draw / 10000.0)) as integer))] as country,
        -- a second group call: another account, drawn by the event
        case when kind = 'switch' then hash(uid * 41 + i) % {accounts} else account end as group_account,
        -- a purchase: an add-on (15%, no interval), else the plan's price (4% a plan up), ten of
        -- them a year ahead for the yearly payers
        case
            when payment_draw < 15 then 5 + h % 50
            else [29, 49, 99, 299][1 + least(3, (plan_draw % 4) + case when payment_draw >= 96 then 1 else 0 end)]
                * case when pays_yearly then 10 else 1 end
        end as amount,
        case
            when payment_draw < 15 then ''
            when payment_draw = 15 then ', "interval": "weekly"'
            when pays_yearly then ', "interval": "year"'
            else ', "interval": "month"'
        end as interval_member
    from kinds
)
select
    'm' || i as message_id,
    case kind when 'page' then 'page' when 'identify' then 'identify' when 'reidentify' then 'identify'
        when 'group' then 'group' when 'switch' then 'group' else 'track' end as type,
    case kind
        when 'signup' then 'Signed Up'
        when 'exposure' then 'Experiment Viewed'
        when 'order' then 'Order Completed'
        when 'activation' then 'Project Created'
        when 'feature' then
            case when rare_draw < 500 then {rare_events}[1 + rare_draw % 5]
            else {feature_events}[least(25, cast(floor(pow(26, event_draw / 1000000.0)) as integer))]
            end
    end as event,
    -- half of the page views are sent before login: no userId, stitched by anonymousId
    case when kind = 'page' and h % 22 = 0 then null else 'u' || uid end as user_id,
    'a' || uid as anonymous_id,
    case when kind in ('group', 'switch') then 'g' || group_account end as group_id,
    {timestamp} as timestamp,
    case when kind = 'order' then cast(amount as varchar) end as revenue_raw,
    case when kind = 'order' then '{{"revenue": ' || amount || interval_member || '}}' end as properties_raw,
    case when kind = 'signup' and uid % 4 <> 0
        then '"' || ['google', 'facebook', 'linkedin'][1 + cast(uid % 3 as integer)] || '"'
    end as campaign_source_raw,
    -- two campaigns per channel, 5% of campaign touches without one
    case when kind = 'signup' and uid % 4 <> 0 and hash(uid * 47 + 13) % 20 <> 0
        then '"' || ['Brand', 'Generic'][1 + cast(hash(uid * 47 + 13) % 2 as integer)] || '"'
    end as campaign_name_raw,
    -- ~1% of events are exposures to one of 5 experiments, each user always in the same
    -- variation of an experiment (a hash of user and experiment)
    case when kind = 'exposure' then
        '{{"experiment_id": "exp' || (h // 1000) % 5 || '", "variation_id": "'
        || case when hash(uid * 5 + (h // 1000) % 5) % 2 = 0 then 'control' else 'treatment' end || '"}}'
    end as experiment_raw,
    case
        when kind in ('identify', 'reidentify') then
            '{{"plan": '
            -- 1% of the identifies at signup send a blank plan, 2% of all a null company size
            || case when kind = 'identify' and event_draw % 100 = 0 then '"  "'
                else '"' || {plans}[1 + least(3, plan_index)] || '"' end
            || ', "company_size": '
            || case when event_draw % 50 = 1 then 'null'
                else cast(cast(round(exp(size_draw / 1000.0 * ln(5000))) as integer) as varchar) end
            || '}}'
        when kind in ('group', 'switch') then '{{"name": "Account ' || group_account || '"}}'
    end as traits_raw,
    -- one device type per user (5% of them capitalised, spaces around) on all its events ...
    case
        when platform_draw < 8 then null
        when spelling_draw = 0 then ' ' || upper(device_type) || ' '
        else device_type
    end as device_type_raw,
    -- ... or only an OS name (5%), or neither (3%)
    case when platform_draw >= 3 and platform_draw < 8 then {os_names}[1 + device_draw] end as os_name_raw,
    -- one country per user: 1.5% blank, 3% lowercase
    case when country_draw < 15 then '  ' when country_draw < 45 then lower(country) else country end
        as country_raw,
    '{{}}' as payload,
    'bench' as kafka_topic,
    kafka_partition,
    i as kafka_offset,
    now() as ingested_at
from events
"""


# History: each user signs up on one of 300 days and is active over the following 60, in
# visits: each event belongs to one of the user's {sessions} visits (a random instant of
# those 60 days) and falls within 15 minutes of its start, so a visit is one session. The
# identify and group calls at signup come 1 and 2 seconds after it.
SIGNUP_DAY = "timestamp '2025-01-01 00:00:00+00' + to_days(cast(hash(uid) % 300 as integer))"
AT_SIGNUP = "case kind when 'signup' then 0 when 'identify' then 1 when 'group' then 2 end"
HISTORY_TIMESTAMP = f"""{SIGNUP_DAY}
        + to_seconds(coalesce({AT_SIGNUP}, cast(
            hash(uid * 64 + (h // 1000) % {{sessions}}) % (86400 * 60) + (h // 100000) % 900 as bigint)))"""
# --spread: every event at its own random instant of the 60 days (nearly one event per session).
SPREAD_TIMESTAMP = f"""{SIGNUP_DAY}
        + to_seconds(coalesce({AT_SIGNUP}, cast(h % (86400 * 60) as bigint)))"""
# The next day: events of random existing users during the day after the history ends, in
# visits of DAY_VISIT_EVENTS consecutive ids (one user, 15 minutes at a random instant of the
# day), as the history's visits hold ~4 events; with --spread each event is its own user's.
DAY_VISIT_EVENTS = 4
NEXT_DAY_START = "(select max(timestamp) from raw.events)::date + interval 1 day"
NEXT_DAY_TIMESTAMP = f"{NEXT_DAY_START} + to_seconds(cast(h % 86400 as bigint))"
NEXT_DAY_VISIT_TIMESTAMP = f"""{NEXT_DAY_START}
        + to_seconds(cast(hash(i // {DAY_VISIT_EVENTS}) % (86400 - 900) + (h // 100000) % 900 as bigint))"""


def events_sql(users: int, events: int, first: int, last: int, timestamp: str, visit: str = "i") -> str:
    """EVENTS_SQL for ids [first, last) of a history of `events` events of `users` users; the
    ids with equal `visit` (an expression of the id i) belong to one random user."""
    # The ids an event of a random user may fall on: all but the signups and the calls at
    # signup, ~88% of them not a page view, exposure, purchase or activation.
    ordinary = 0.88 * (events - 3 * users + (1 - MEMBER_PERCENT / 100 + 0.04) * users)
    return EVENTS_SQL.format(
        users=users,
        first=first,
        last=last,
        timestamp=timestamp,
        visit=visit,
        member_percent=MEMBER_PERCENT,
        accounts=max(1, round(users * MEMBER_PERCENT / 100 / ACCOUNT_SIZE)),
        reidentify_ppm=round(LATER_IDENTIFIES * users / ordinary * 1_000_000),
        switch_ppm=round(SWITCHES * users / ordinary * 1_000_000),
        plans=sql_list(PLANS),
        countries=sql_list(COUNTRIES),
        device_types=sql_list(DEVICE_TYPES),
        os_names=sql_list(OS_NAMES),
        feature_events=sql_list(FEATURE_EVENTS),
        rare_events=sql_list(RARE_EVENTS),
    )


def write_raw(
    warehouse: Path, users: int, events: int, first: int = 0, next_day: bool = False, sessions: int | None = 12
) -> None:
    """Append events [first, first + events); sessions=None spreads them instead of visits
    (in the history and in an appended day alike).

    A history (first = 0) needs at least 5 events per user; an append (next_day) reads the
    rates of the history of `first` events.
    """
    history = first if next_day else events
    with connect(warehouse) as con:
        ensure_raw_schema(con)
        chunk = 5_000_000
        visit = "i"
        if next_day and sessions is None:
            timestamp = NEXT_DAY_TIMESTAMP
        elif next_day:
            timestamp, visit = NEXT_DAY_VISIT_TIMESTAMP, f"i // {DAY_VISIT_EVENTS}"
        elif sessions is None:
            timestamp = SPREAD_TIMESTAMP
        else:
            timestamp = HISTORY_TIMESTAMP.format(sessions=sessions)
        for start in range(first, first + events, chunk):
            con.execute(events_sql(users, history, start, min(first + events, start + chunk), timestamp, visit))
        if first == 0:
            con.execute(
                "insert into raw.marketing_spend "
                "(spend_date, channel, campaign, spend, source_file, source_line, loaded_at) "
                "select date '2025-01-01' + cast(d as integer), c, campaign, amount, 'bench.csv', 1, now() "
                "from range(300) t(d), (values ('google'), ('facebook'), ('linkedin')) s(c), "
                "(values ('brand', 550.0), (' Generic', 400.0), ('', 50.0)) p(campaign, amount)"
            )


# The recurring-revenue models (docs/revenue.md), whose cost the builds print.
REVENUE_MODELS = (
    "int_payments_classified",
    "int_payments_spread",
    "int_mrr_movements_classified",
    "fct_mrr",
    "fct_revenue_retention",
    "fct_campaign_acquisition",
)
# What --without-experiments leaves out: the experiment models and the tests on them.
EXPERIMENT_MODELS = "stg_segment__experiment_exposures+"
# The segment models (segments.md) ...
SEGMENT_MODELS = (
    "int_user_properties",
    "int_user_segments",
    "int_user_feature_weeks",
    "int_user_feature_firsts",
    "int_features",
    "int_account_days_active",
    "int_account_names",
    "dim_accounts",
    "fct_retention_by_segment",
    "fct_activation_by_segment",
    "fct_feature_adoption",
    "fct_feature_retention",
    "fct_account_retention",
)
# ... and what --without-segments leaves out: all of them and the tests on them but
# int_user_properties, which dim_users reads. The segment columns of the models every build
# runs (platform, country, group_id, traits_json from staging on; the first platform and
# country in int_user_facts) stay: only a build of the commit before the segments lacks them.
SEGMENT_EXCLUDE = "int_user_segments+ int_user_feature_weeks+ int_account_days_active+ int_account_names+"


def node_results(settings: Settings) -> list[dict[str, Any]]:
    """The models and tests of the last build, from dbt's run_results.json."""
    return list(json.loads((target_dir(settings) / "run_results.json").read_text())["results"])


def slowest_nodes(settings: Settings, count: int = 8) -> str:
    """The slowest models and tests of the last build."""
    ranked = sorted(node_results(settings), key=lambda result: result["execution_time"], reverse=True)[:count]
    return ", ".join(f"{r['unique_id'].split('.')[-1]} {r['execution_time']:.1f}s" for r in ranked)


def segment_nodes(
    settings: Settings, names: tuple[str, ...] = SEGMENT_MODELS
) -> tuple[dict[str, float], float, list[str]]:
    """The last build's models of ``names`` (the segment models) and the tests on them with their
    times (by name), the summed time of all nodes, and those models built.

    dbt runs two threads, so summed node times exceed the wall time: a share is of the sum.
    """
    nodes = json.loads((target_dir(settings) / "manifest.json").read_text())["nodes"]
    models = {key for key, node in nodes.items() if node["resource_type"] == "model" and node["name"] in names}
    times = {result["unique_id"]: float(result["execution_time"]) for result in node_results(settings)}
    tests = {
        key
        for key, node in nodes.items()
        if node["resource_type"] == "test" and models & set(node.get("depends_on", {}).get("nodes", []))
    }
    segment = {nodes[key]["name"]: seconds for key, seconds in times.items() if key in models | tests}
    return segment, sum(times.values()), sorted(name for name in segment if name in names)


def revenue_summary(settings: Settings) -> str:
    """What the revenue models cost in the last build and what their marts hold."""
    spent, total, built = segment_nodes(settings, REVENUE_MODELS)
    with connect(settings.warehouse, read_only=True) as con:
        [(months, customers, mrr)] = con.execute(
            "select count(*), arg_max(customers, month), arg_max(mrr, month) from marts.fct_mrr where is_complete"
        ).fetchall()
        [(campaigns,)] = con.execute("select count(*) from marts.fct_campaign_acquisition").fetchall()
        [(cohorts,)] = con.execute("select count(*) from marts.fct_revenue_retention").fetchall()
    return (
        f"revenue models and their tests: {sum(spent.values()):.1f} s of {total:.1f} s summed node time "
        f"({len(built)} models); fct_mrr {months} complete months, the last {customers:,} customers, "
        f"MRR {mrr or 0:,.0f}; fct_revenue_retention {cohorts:,} rows; fct_campaign_acquisition {campaigns:,} rows"
    )


def segment_share(settings: Settings) -> str:
    segment, total, built = segment_nodes(settings)
    if not built:
        return "segment models: none in this build"
    part = sum(segment.values())
    tests = len(segment) - len(built)
    names = ", ".join(built) if len(built) < 3 else f"{len(built)} models"
    slowest = sorted(segment.items(), key=lambda item: item[1], reverse=True)[:3]
    return (
        f"segment models and their tests: {part:.1f} s of {total:.1f} s summed node time"
        f" = {part / total if total else 0:.1%} ({names}, {tests} tests; slowest: "
        + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in slowest)
        + ")"
    )


def segment_summary(settings: Settings) -> str:
    """What the segment marts hold after a build: features, dimensions, accounts, rows."""
    with connect(settings.warehouse, read_only=True) as con:

        def one(sql: str) -> object:
            row = con.execute(sql).fetchone()
            return row[0] if row else None

        features = one("select count(*) from intermediate.int_features")
        dimensions = con.execute(
            "select dimension, count(distinct segment) from intermediate.int_user_segments group by 1 order by 1"
        ).fetchall()
        accounts = one("select count(*) from marts.dim_accounts")
        rows = {
            mart: one(f"select count(*) from marts.{mart}")
            for mart in (
                "fct_retention_by_segment",
                "fct_activation_by_segment",
                "fct_feature_adoption",
                "fct_feature_retention",
                "fct_account_retention",
            )
        }
    return (
        f"{features} features; {len(dimensions)} dimensions ("
        + ", ".join(f"{name} {count} segments" for name, count in dimensions)
        + f"); {accounts:,} accounts; rows: "
        + ", ".join(f"{mart} {count:,}" for mart, count in rows.items())
    )


def measured_build(settings: Settings) -> tuple[float, float]:
    """Seconds and peak RSS (GB) of `growth build` for ``settings``' engine, in a process of its own
    so that the peak is this build's (dbt and, on Spark, the JVM it starts are its children)."""
    env = {
        **os.environ,
        "GROWTH_WAREHOUSE": str(settings.warehouse),
        "GROWTH_ENGINE": settings.engine,
        "GROWTH_LAKE": str(settings.lake),
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("growth")), "build"], env=env, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    if status != 0:
        raise SystemExit(f"growth build on {settings.engine} failed (exit status {status})")
    return elapsed, usage.ru_maxrss / 1024 / 1024


def engines_side_by_side(settings: Settings) -> None:
    """--engine spark: the raw layer copied into a Parquet lake, then a full build by each engine."""
    lake = Lake(settings.warehouse.parent / "lake")
    with connect(settings.warehouse, read_only=True) as con:
        timed("copy the raw layer into a Parquet lake", lambda: copy_raw_to_lake(con, lake))
    spark = replace(settings, engine="spark", lake=lake.root, warehouse=settings.warehouse.with_name("spark.duckdb"))
    figures = {}
    for engine_settings in (settings, spark):
        seconds, peak = measured_build(engine_settings)
        figures[engine_settings.engine] = seconds
        print(f"(b) full build on {engine_settings.engine}: {seconds:.1f} s, peak RSS {peak:.2f} GB", flush=True)
    print(f"spark / duckdb = {figures['spark'] / figures['duckdb']:.1f}")


def timed(label: str, work: object) -> float:
    started = time.monotonic()
    work()  # type: ignore[operator]
    elapsed = time.monotonic() - started
    print(f"{label}: {elapsed:.1f} s", flush=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--sessions", type=int, default=12, help="visits per user over their 60 active days")
    parser.add_argument(
        "--spread", action="store_true", help="no visits: each event at its own random instant (~1 event per session)"
    )
    parser.add_argument("--dir", type=Path, default=None, help="where to put the warehouse (default: a temp dir)")
    parser.add_argument(
        "--raw-cache",
        type=Path,
        default=None,
        help="a copy of the raw layer: reused when the file exists (same sizes), written there when not",
    )
    parser.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="spark: a full build by DuckDB and by Spark on the same raw layer, side by side (no incremental)",
    )
    parser.add_argument("--nodes", type=int, default=8, help="how many of the slowest nodes to print")
    parser.add_argument(
        "--without-experiments",
        action="store_true",
        help="leave the experiment models out of both builds (what the experiment analysis adds to a build)",
    )
    parser.add_argument(
        "--without-segments",
        action="store_true",
        help="leave the segment models out of both builds (what segments add to a build)",
    )
    args = parser.parse_args()
    if args.events < 5 * args.users:
        parser.error("--events must be at least 5 x --users (signup, identify and group calls, then activity)")
    excluded = [EXPERIMENT_MODELS] * args.without_experiments + [SEGMENT_EXCLUDE] * args.without_segments
    exclude = " ".join(excluded) or None
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        settings = Settings(warehouse=Path(tmp) / "warehouse.duckdb")
        if args.raw_cache and args.raw_cache.exists():
            timed(f"copy raw layer from {args.raw_cache}", lambda: shutil.copyfile(args.raw_cache, settings.warehouse))
        else:
            timed(
                f"write raw layer ({args.users:,} users, {args.events:,} events)",
                lambda: write_raw(
                    settings.warehouse, args.users, args.events, sessions=None if args.spread else args.sessions
                ),
            )
            if args.raw_cache:
                shutil.copyfile(settings.warehouse, args.raw_cache)

        def baseline() -> None:
            # The groups are counted inside DuckDB: fetching ~12M rows into Python tuples
            # takes longer than the pass itself and would measure Python, not the pass.
            with connect(settings.warehouse) as con:
                con.execute(
                    "select count(*), sum(events) from ("
                    "select user_id, cast(timestamp as date) as day, count(*) as events from raw.events group by all)"
                ).fetchall()

        a = timed("(a) baseline distinct (user, date) pass", baseline)
        if args.engine == "spark":
            engines_side_by_side(settings)
            return
        b = timed("(b) full growth build", lambda: run_build(settings, exclude=exclude, quiet=True))
        print(f"    slowest: {slowest_nodes(settings, args.nodes)}")
        print(f"    {segment_share(settings)}")
        if "fct_retention_by_segment" in segment_nodes(settings)[2]:
            print(f"    segments: {segment_summary(settings)}")
        print(f"    {revenue_summary(settings)}")
        if not args.without_experiments:
            timed("    experiment results (the engine, after the build)", lambda: run_experiment_results(settings))
        extra = args.events // 200
        timed(
            f"append one more day ({extra:,} events)",
            lambda: write_raw(
                settings.warehouse,
                args.users,
                extra,
                first=args.events,
                next_day=True,
                sessions=None if args.spread else args.sessions,
            ),
        )
        c = timed("(c) growth build after the append", lambda: run_build(settings, exclude=exclude, quiet=True))
        print(f"    slowest: {slowest_nodes(settings, args.nodes)}")
        print(f"    {segment_share(settings)}")
        print(f"    {revenue_summary(settings)}")
        peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024
        left_out = " and ".join(
            name
            for name, flag in (("experiments", args.without_experiments), ("segments", args.without_segments))
            if flag
        )
        print(
            f"b/a = {b / a:.1f}   c/b = {c / b:.3f}   peak RSS of dbt = {peak_gb:.2f} GB"
            + (f"   (without {left_out})" if left_out else "")
        )


if __name__ == "__main__":
    main()
