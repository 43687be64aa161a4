"""Build speed: a realistic raw layer written straight into DuckDB, then `growth build`.

    python benchmarks/build.py [--users 1000000] [--events 50000000]

Writes the raw layer with SQL (no Kafka, so it takes seconds): every user signs up (with a
campaign touch for most), then has activity events in visits over the following 60 days
(12 visits of ~4 events each by default; `--spread` puts every event at its own random
instant instead, nearly one event per session), activations, purchases with revenue,
anonymous page views (stitched by anonymousId), ~1% experiment exposures (5 experiments,
2 variations) and ~1% duplicate retries. The
stored payload is a stub (`{}`): no model reads it, and 50M full payloads would only
measure disk. Then it times
  (a) a baseline single pass: distinct (user, date) counts over raw.events (the groups
      stay in DuckDB),
  (b) a full `growth build`,
  (c) one more day of events (~0.5%, random existing users, timestamps on the day after
      the history ends) appended, then `growth build` again (incremental),
and prints the times, b/a, c/b and the peak RSS of the dbt processes.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/ingest.py shares its name with the `ingest` package: keep this folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import resource
import tempfile
import time

from orchestration.build import run_build, target_dir
from orchestration.pipeline import run_experiment_results
from warehouse.connection import connect, ensure_raw_schema
from warehouse.settings import Settings

EVENTS_SQL = """
insert into raw.events by name
with numbered as (
    select i, hash(i) % {users} as u, hash(i * 7 + 3) as h, 0 as kafka_partition
    from range({first}, {last}) as t(i)
    union all
    -- ~1% retries: the same event sent again, read later (partition 1 sorts after 0)
    select i, hash(i) % {users}, hash(i * 7 + 3), 1
    from range({first}, {last}) as t(i)
    where hash(i * 7 + 3) % 100 = 42
)
select
    'm' || i as message_id,
    case when i < {users} then 'track' when h % 11 = 0 then 'page' else 'track' end as type,
    case
        when i < {users} then 'Signed Up'
        when h % 11 = 0 then null
        when h % 1000 < 11 then 'Experiment Viewed'
        when h % 97 = 0 then 'Order Completed'
        when h % 89 = 0 then 'Project Created'
        else 'Task Added'
    end as event,
    -- half of the page views are sent before login: no userId, stitched by anonymousId
    case when i >= {users} and h % 22 = 0 then null else 'u' || (case when i < {users} then i else u end) end
        as user_id,
    'a' || (case when i < {users} then i else u end) as anonymous_id,
    {timestamp} as timestamp,
    case when h % 97 = 0 and h % 1000 >= 11 then cast(29 + h % 270 as varchar) end as revenue_raw,
    case when i < {users} and i % 4 <> 0 then '"' || ['google', 'facebook', 'linkedin'][1 + i % 3] || '"' end
        as campaign_source_raw,
    -- ~1% of events are exposures to one of 5 experiments, each user always in the same
    -- variation of an experiment (a hash of user and experiment)
    case when i >= {users} and h % 11 <> 0 and h % 1000 < 11 then
        '{{"experiment_id": "exp' || (h // 1000) % 5 || '", "variation_id": "'
        || case when hash(u * 5 + (h // 1000) % 5) % 2 = 0 then 'control' else 'treatment' end || '"}}'
    end as experiment_raw,
    '{{}}' as payload,
    'bench' as kafka_topic,
    kafka_partition,
    i as kafka_offset,
    now() as ingested_at
from numbered
"""


# History: each user signs up on one of 300 days and is active over the following 60, in
# visits: each event belongs to one of the user's {sessions} visits (a random instant of
# those 60 days) and falls within 15 minutes of its start, so a visit is one session.
HISTORY_TIMESTAMP = """timestamp '2025-01-01 00:00:00+00'
        + to_days(cast(hash(case when i < {users} then i else u end) % 300 as integer))
        + to_seconds(case when i < {users} then 0 else cast(
            hash(u * 64 + (h // 1000) % {sessions}) % (86400 * 60) + (h // 100000) % 900 as bigint) end)"""
# --spread: every event at its own random instant of the 60 days (nearly one event per session).
SPREAD_TIMESTAMP = """timestamp '2025-01-01 00:00:00+00'
        + to_days(cast(hash(case when i < {users} then i else u end) % 300 as integer))
        + to_seconds(case when i < {users} then 0 else cast(h % (86400 * 60) as bigint) end)"""
# The next day: events of random existing users during the day after the history ends.
NEXT_DAY_TIMESTAMP = (
    "(select max(timestamp) from raw.events)::date + interval 1 day + to_seconds(cast(h % 86400 as bigint))"
)


def write_raw(
    warehouse: Path, users: int, events: int, first: int = 0, next_day: bool = False, sessions: int | None = 12
) -> None:
    """Append events [first, first + events); sessions=None spreads them instead of visits."""
    with connect(warehouse) as con:
        ensure_raw_schema(con)
        chunk = 5_000_000
        if next_day:
            timestamp = NEXT_DAY_TIMESTAMP
        elif sessions is None:
            timestamp = SPREAD_TIMESTAMP.format(users=users)
        else:
            timestamp = HISTORY_TIMESTAMP.format(users=users, sessions=sessions)
        for start in range(first, first + events, chunk):
            con.execute(
                EVENTS_SQL.format(
                    users=users, first=start, last=min(first + events, start + chunk), timestamp=timestamp
                )
            )
        if first == 0:
            con.execute(
                "insert into raw.marketing_spend "
                "(spend_date, channel, campaign, spend, source_file, source_line, loaded_at) "
                "select date '2025-01-01' + cast(d as integer), c, null, 1000.0, 'bench.csv', 1, now() "
                "from range(300) t(d), (values ('google'), ('facebook'), ('linkedin')) s(c)"
            )


# What --without-experiments leaves out: the experiment models and the tests on them.
EXPERIMENT_MODELS = "stg_segment__experiment_exposures+"


def slowest_nodes(settings: Settings, count: int = 8) -> str:
    """The slowest models and tests of the last build, from dbt's run_results.json."""
    results = json.loads((target_dir(settings) / "run_results.json").read_text())["results"]
    ranked = sorted(results, key=lambda result: result["execution_time"], reverse=True)[:count]
    return ", ".join(f"{r['unique_id'].split('.')[-1]} {r['execution_time']:.1f}s" for r in ranked)


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
        "--without-experiments",
        action="store_true",
        help="leave the experiment models out of both builds (what the experiment analysis adds to a build)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        settings = Settings(warehouse=Path(tmp) / "warehouse.duckdb")
        timed(
            f"write raw layer ({args.users:,} users, {args.events:,} events)",
            lambda: write_raw(
                settings.warehouse, args.users, args.events, sessions=None if args.spread else args.sessions
            ),
        )

        def baseline() -> None:
            # The groups are counted inside DuckDB: fetching ~12M rows into Python tuples
            # takes longer than the pass itself and would measure Python, not the pass.
            with connect(settings.warehouse) as con:
                con.execute(
                    "select count(*), sum(events) from ("
                    "select user_id, cast(timestamp as date) as day, count(*) as events from raw.events group by all)"
                ).fetchall()

        a = timed("(a) baseline distinct (user, date) pass", baseline)
        exclude = EXPERIMENT_MODELS if args.without_experiments else None
        b = timed("(b) full growth build", lambda: run_build(settings, exclude=exclude, quiet=True))
        print(f"    slowest: {slowest_nodes(settings)}")
        if not args.without_experiments:
            timed("    experiment results (the engine, after the build)", lambda: run_experiment_results(settings))
        extra = args.events // 200
        timed(
            f"append one more day ({extra:,} events)",
            lambda: write_raw(settings.warehouse, args.users, extra, first=args.events, next_day=True),
        )
        c = timed("(c) growth build after the append", lambda: run_build(settings, exclude=exclude, quiet=True))
        print(f"    slowest: {slowest_nodes(settings)}")
        peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024
        print(f"b/a = {b / a:.1f}   c/b = {c / b:.3f}   peak RSS of dbt = {peak_gb:.2f} GB")


if __name__ == "__main__":
    main()
