"""Predictive LTV holdout across simulator seeds, through the real pipeline.

    python benchmarks/predictive_ltv.py [--users 3000] [--days 365] [--seeds 1 2 3 7 11]

For each seed: the demo simulator's records are validated and written into a fresh DuckDB
warehouse by the ingester's writer, `growth build` runs dbt, and `build_predictive_ltv`
fits BG/NBD + Gamma-Gamma on the history up to three months before the end (as
tests/test_predictive_ltv_holdout.py does for one seed). Printed per seed: predicted vs
actual purchase days and revenue in the 3-month holdout of the users who were customers
at the cutoff, and the channel ranking check (every pair of channels whose actual holdout
revenue per user differs by more than 1.5x must be ranked the same way by predicted
revenue per user). The actual figures come from intermediate.int_events_attributed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

# benchmarks/ingest.py shares its name with the `ingest` package: keep this folder off the path
# (the project's modules are imported inside the functions, after this).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

END = date(2026, 6, 30)
CUTOFF = date(2026, 3, 31)  # the last 3 months (April-June) are the holdout

ACTUALS_SQL = """
with holdout as (
    select user_key, count(distinct event_date) as purchase_days, sum(revenue) as revenue
    from intermediate.int_events_attributed
    where event_type = 'track' and event_name = 'Order Completed' and revenue > 0
      and event_date > $cutoff and event_date <= $end
    group by 1
)
select p.acquisition_channel,
       p.probability_alive is not null as customer,
       p.expected_purchases, p.expected_revenue,
       coalesce(h.purchase_days, 0), coalesce(h.revenue, 0)
from marts.fct_predicted_ltv p left join holdout h using (user_key)
"""


def holdout(users: int, days: int, seed: int, root: Path) -> dict[str, object]:
    import duckdb

    from devkit.simulator import Simulation
    from ingest.batch import Batch
    from ingest.writer import write_batch
    from orchestration.build import run_build
    from transforms.predictive_ltv import build_predictive_ltv
    from warehouse.connection import connect, ensure_raw_schema
    from warehouse.settings import Settings

    settings = Settings(
        warehouse=root / "warehouse.duckdb",
        spend_dir=root / "spend",
        report_dir=root / "reports",
        published=root / "published.duckdb",
    )
    with connect(settings.warehouse) as con:
        ensure_raw_schema(con)
    batch = Batch(ingested_at=datetime.now(UTC))
    for offset, (_, value) in enumerate(Simulation(users=users, days=days, seed=seed, end_date=END).records()):
        batch.add("events", 0, offset, value)
    write_batch(settings.warehouse, batch)
    run_build(settings, quiet=True)
    build_predictive_ltv(settings, horizon_months=3, as_of=CUTOFF)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute(ACTUALS_SQL, {"cutoff": CUTOFF, "end": END}).fetchall()
    customers = [row for row in rows if row[1]]
    channels: dict[str, list[float]] = {}
    for channel, _, _, predicted_revenue, _, actual_revenue in rows:
        totals = channels.setdefault(channel, [0.0, 0.0, 0])
        totals[0] += predicted_revenue
        totals[1] += actual_revenue
        totals[2] += 1
    per_user = {c: (p / n, a / n, n) for c, (p, a, n) in channels.items() if n >= 100}
    separated = [(a, b) for a in per_user for b in per_user if per_user[a][1] > 1.5 * per_user[b][1]]
    return {
        "customers": len(customers),
        "predicted": sum(row[2] for row in customers),
        "actual": sum(row[4] for row in customers),
        "predicted_revenue": sum(row[3] for row in customers),
        "actual_revenue": sum(row[5] for row in customers),
        "per_user": per_user,
        "separated": len(separated),
        "misranked": [(a, b) for a, b in separated if not per_user[a][0] > per_user[b][0]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 7, 11])
    args = parser.parse_args()
    print(f"{args.users} users, {args.days} days ending {END}, fitted up to {CUTOFF}, holdout after it")
    print("seed customers  purchases: predicted actual  error   revenue: predicted    actual  error  ranking")
    for seed in args.seeds:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="pltv_bench_") as tmp:
            r = holdout(args.users, args.days, seed, Path(tmp))
        p, a, pr, ar = r["predicted"], r["actual"], r["predicted_revenue"], r["actual_revenue"]
        assert isinstance(p, float) and isinstance(a, int) and isinstance(pr, float) and isinstance(ar, float)
        per_user = r["per_user"]
        assert isinstance(per_user, dict)
        order = " > ".join(
            f"{c} {v[1]:.0f}/{v[0]:.0f}" for c, v in sorted(per_user.items(), key=lambda item: -item[1][1])
        )
        print(
            f"{seed:4d} {r['customers']:9d} {p:20.1f} {a:6d} {p / a - 1:+6.1%} {pr:19.0f} {ar:9.0f} {pr / ar - 1:+6.1%}"
            f"  {r['separated']} separated pairs, misranked {r['misranked']}; actual/predicted per user: {order}"
            f"  ({time.monotonic() - started:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
