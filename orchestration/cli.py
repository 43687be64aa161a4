"""The ``growth`` command line of interface.md.

Each command resolves its settings (option > environment > default), then hands off to the
module that owns the work. Implementations are imported inside the commands so that
``growth --help`` and quick commands stay fast (Dagster and dbt are slow to import).
Expected failures (:class:`warehouse.errors.GrowthError`) print one line and exit 1; a
traceback appears only with ``--debug``.
"""

from __future__ import annotations

import json
import logging
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.console import Console

from warehouse.errors import GrowthError
from warehouse.settings import Settings, load_settings

app = typer.Typer(
    name="growth",
    help="growth-warehouse: product analytics and growth metrics on your own data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # option help shows "[env VAR; default]" literally, not as markup
)
broker_app = typer.Typer(help="The embedded Kafka-compatible broker (development only).", no_args_is_help=True)
app.add_typer(broker_app, name="broker")

console = Console(stderr=True)
out = Console()
_state: dict[str, bool] = {"debug": False}

Warehouse = Annotated[
    Path | None, typer.Option("--warehouse", help="Warehouse file [env GROWTH_WAREHOUSE; ./data/warehouse.duckdb]")
]
Bootstrap = Annotated[
    str | None, typer.Option("--bootstrap-servers", help="Kafka bootstrap servers [env KAFKA_BOOTSTRAP_SERVERS]")
]
Topic = Annotated[str | None, typer.Option("--topic", help="Events topic [env GROWTH_EVENTS_TOPIC; events]")]
GroupId = Annotated[
    str | None, typer.Option("--group-id", help="Consumer group [env GROWTH_CONSUMER_GROUP; growth-ingest]")
]
KafkaConfig = Annotated[
    list[str] | None,
    typer.Option("--kafka-config", help="Extra kafka-python client setting KEY=VALUE (repeatable)"),
]
SpendDir = Annotated[Path | None, typer.Option("--spend-dir", help="Spend CSV directory [env GROWTH_SPEND_DIR]")]
ReportDir = Annotated[Path | None, typer.Option("--out", help="Report directory [env GROWTH_REPORT_DIR; ./reports]")]


def _settings(**options: Any) -> Settings:
    kafka_config = options.pop("kafka_config", None) or ()
    return load_settings(kafka_config=kafka_config, **options)


OWN_LOGGERS = ("warehouse", "ingest", "transforms", "devkit", "analysts", "delivery", "orchestration")


class _OwnRecords(logging.Filter):
    """Let through our own warnings; a library's (kafka-python's reconnect chatter) only with --debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.split(".")[0] in OWN_LOGGERS


def _configure_logging(debug: bool) -> None:
    handler = logging.StreamHandler()
    if debug:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        handler.addFilter(_OwnRecords())
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler], force=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"growth-warehouse {version('growth-warehouse')}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug
    _configure_logging(debug)


@broker_app.command("start")
def broker_start(
    port: Annotated[int, typer.Option("--port", help="Loopback port to listen on.")] = 9092,
    warehouse: Warehouse = None,
) -> None:
    """Start the embedded broker in the background (pid file under the data directory)."""
    from devkit.broker import EmbeddedBroker

    info = EmbeddedBroker(_settings(warehouse=warehouse).data_dir).start(port)
    out.print(f"broker running: pid {info.pid}, bootstrap servers {info.bootstrap_servers}")


@broker_app.command("stop")
def broker_stop(warehouse: Warehouse = None) -> None:
    """Stop the embedded broker (its in-memory data is gone)."""
    from devkit.broker import EmbeddedBroker

    info = EmbeddedBroker(_settings(warehouse=warehouse).data_dir).stop()
    out.print("broker was not running" if info is None else f"broker stopped (pid {info.pid})")


@broker_app.command("status")
def broker_status(warehouse: Warehouse = None) -> None:
    """Say whether the embedded broker runs; exit 1 when it does not."""
    from devkit.broker import EmbeddedBroker

    info = EmbeddedBroker(_settings(warehouse=warehouse).data_dir).status()
    if info is None:
        out.print("broker not running")
        raise typer.Exit(1)
    out.print(f"broker running: pid {info.pid}, bootstrap servers {info.bootstrap_servers}")


@app.command()
def simulate(
    users: Annotated[int, typer.Option("--users", min=1, help="Number of users who sign up.")] = 2000,
    days: Annotated[int, typer.Option("--days", min=1, help="Days of history.")] = 90,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same events).")] = 42,
    signup_outage: Annotated[
        list[str] | None,
        typer.Option(
            "--signup-outage",
            metavar="DATE[:CHANNEL[:LOSS]]",
            help="Plant a signup outage: CHANNEL (google) loses LOSS (1.0) of its signups on DATE, "
            "the other channels 60% (repeatable).",
        ),
    ] = None,
    activation_regression: Annotated[
        list[str] | None,
        typer.Option(
            "--activation-regression",
            metavar="DATE[:CHANNEL[:FACTOR]]",
            help="Plant an activation regression: users of CHANNEL (facebook) who sign up from DATE on "
            "activate FACTOR (0.4) times as often (repeatable).",
        ),
    ] = None,
    spend_dir: SpendDir = None,
    bootstrap_servers: Bootstrap = None,
    topic: Topic = None,
    kafka_config: KafkaConfig = None,
    warehouse: Warehouse = None,
) -> None:
    """Produce a believable product's events to Kafka and write matching spend CSVs."""
    from devkit.simulator import simulate as run_simulation
    from devkit.simulator.incidents import ActivationRegression, Incident, SignupOutage, parse_incident

    incidents: list[Incident] = []
    for kind, option, texts in (
        (SignupOutage, "--signup-outage", signup_outage),
        (ActivationRegression, "--activation-regression", activation_regression),
    ):
        for text in texts or ():
            try:
                incidents.append(parse_incident(kind, text))
            except ValueError as exc:
                raise GrowthError(f"{option} {text}: {exc}") from None
    settings = _settings(
        warehouse=warehouse,
        bootstrap_servers=bootstrap_servers,
        topic=topic,
        kafka_config=kafka_config,
        spend_dir=spend_dir,
    )
    summary = run_simulation(settings, users=users, days=days, seed=seed, incidents=tuple(incidents))
    out.print(
        f"produced {summary.events_produced:,} records for {summary.users:,} users "
        f"({summary.first_date} to {summary.last_date}) to topic {settings.topic} "
        f"at {summary.events_per_second:,.0f} records/s; "
        f"{len(summary.spend_files)} spend files in {settings.spend_dir}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def ingest(
    until_caught_up: Annotated[
        bool, typer.Option("--until-caught-up", help="Drain to the end offsets seen at start, then exit.")
    ] = False,
    follow: Annotated[bool, typer.Option("--follow", help="Run until SIGTERM/SIGINT.")] = False,
    max_events: Annotated[int | None, typer.Option("--max-events", help="Stop after this many records.")] = None,
    warehouse: Warehouse = None,
    bootstrap_servers: Bootstrap = None,
    topic: Topic = None,
    group_id: GroupId = None,
    kafka_config: KafkaConfig = None,
) -> None:
    """Consume the events topic into the warehouse, exactly once."""
    from ingest.consumer import run_ingest

    if until_caught_up and follow:
        raise GrowthError("choose one of --until-caught-up and --follow")
    settings = _settings(
        warehouse=warehouse,
        bootstrap_servers=bootstrap_servers,
        topic=topic,
        group_id=group_id,
        kafka_config=kafka_config,
    )
    summary = run_ingest(
        settings, mode="follow" if follow else "until-caught-up", max_events=max_events, show_progress=True
    )
    codes = ", ".join(f"{code} {count:,}" for code, count in summary.codes.most_common()) or "none"
    out.print(
        f"ingested {summary.records:,} records from {settings.topic} in {summary.seconds:.1f} s "
        f"({summary.records_per_second:,.0f}/s): {summary.accepted:,} accepted, "
        f"{summary.quarantined:,} quarantined ({codes})",
        highlight=False,
        soft_wrap=True,
    )


@app.command("load-spend")
def load_spend(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="CSV files or directories [default: the spend dir]")
    ] = None,
    warehouse: Warehouse = None,
    spend_dir: SpendDir = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the rows of a same-named file loaded from another folder.")
    ] = False,
) -> None:
    """Load marketing spend CSVs (idempotent per file; a bad file is rejected whole)."""
    from ingest.spend import load_spend as load

    settings = _settings(warehouse=warehouse, spend_dir=spend_dir)
    results = load(settings, list(paths or [settings.spend_dir]), replace=replace)
    for result in results:
        if result.loaded:
            out.print(f"loaded {result.path.name}: {result.rows:,} rows")
        else:
            console.print(f"[red]rejected[/red] {result.error}", highlight=False, soft_wrap=True)
    rejected = sum(not result.loaded for result in results)
    if rejected:
        raise GrowthError(f"{rejected} of {len(results)} spend files rejected; nothing of those files was loaded")


@app.command()
def build(
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Rebuild incremental models.")] = False,
    vars_json: Annotated[str | None, typer.Option("--vars", help="dbt vars as JSON.")] = None,
    select: Annotated[str | None, typer.Option("--select", help="dbt node selector.")] = None,
    warehouse: Warehouse = None,
) -> None:
    """Run `dbt build` (models and tests) on the warehouse."""
    from orchestration.build import run_build

    dbt_vars = None
    if vars_json is not None:
        try:
            dbt_vars = json.loads(vars_json)
        except ValueError as exc:
            raise GrowthError(f"--vars is not valid JSON: {exc}") from exc
        if not isinstance(dbt_vars, dict):
            raise GrowthError('--vars must be a JSON object, e.g. \'{"reporting_timezone": "Europe/Berlin"}\'')
    run_build(_settings(warehouse=warehouse), full_refresh=full_refresh, vars=dbt_vars, select=select)


@app.command()
def report(
    out_dir: ReportDir = None,
    warehouse: Warehouse = None,
    send: Annotated[
        bool, typer.Option("--send", help="Deliver it (email, Slack, webhook), once per period and destination.")
    ] = False,
    period: Annotated[
        str, typer.Option("--period", help="daily (the last complete day) or weekly (the last complete week)")
    ] = "daily",
) -> None:
    """Render the growth report (HTML with charts) from the analyst snapshot; --send delivers it."""
    if period not in ("daily", "weekly"):
        raise typer.BadParameter(f"must be daily or weekly, not {period!r}", param_hint="--period")
    settings = _settings(warehouse=warehouse, report_dir=out_dir)
    if not send:
        from analysts.report import render_report

        out.print(f"report: {render_report(settings, weekly=period == 'weekly').resolve()}", soft_wrap=True)
        return
    from orchestration.report_delivery import grain_of, send_report

    sent = send_report(settings, grain_of(period))
    out.print(f"report: {sent.path.resolve()}", highlight=False, soft_wrap=True)
    out.print(sent.outcome.summary(), highlight=False, soft_wrap=True)


@app.command()
def publish(
    warehouse: Warehouse = None,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Replace a snapshot that has users with one that has none.")
    ] = False,
) -> None:
    """Refresh the analyst snapshot (atomically replaced)."""
    from analysts.publish import publish_snapshot

    path = publish_snapshot(_settings(warehouse=warehouse), allow_empty=allow_empty)
    out.print(f"analyst snapshot published: {path}")


@app.command()
def sql(
    query: Annotated[str | None, typer.Argument(help="SQL to run; without it, open the duckdb shell.")] = None,
    output: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Run a read-only query on the analyst snapshot (GROWTH_PUBLISHED)."""
    from analysts.sql import open_shell, run_query

    settings = _settings()
    if output not in ("table", "csv", "json"):
        raise GrowthError(f"--format must be table, csv or json, not {output!r}")
    if query is None:
        open_shell(settings)
    else:
        run_query(settings, query, output, out)  # type: ignore[arg-type]


@app.command()
def experiments(
    experiment_id: Annotated[
        str | None, typer.Argument(metavar="ID", help="One experiment's id; without it, every experiment.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Experiment results from the analyst snapshot: lifts, intervals, decisions, sample-ratio checks."""
    from analysts.experiments import show_experiments

    show_experiments(_settings(), experiment_id, as_json=as_json, console=out)


@app.command()
def alerts(
    date: Annotated[
        str | None, typer.Option("--date", metavar="YYYY-MM-DD", help="Day to judge [default: the last complete day].")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be sent to which destination; send nothing.")
    ] = False,
    warehouse: Warehouse = None,
) -> None:
    """Evaluate the metric monitors and deliver each alert once to the alert destinations."""
    import datetime as dt

    from orchestration.alerts import run_alerts

    day = None
    if date is not None:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise GrowthError(f"--date {date!r} is not a date (YYYY-MM-DD)") from None
    run = run_alerts(_settings(warehouse=warehouse), day, dry_run=dry_run)
    for line in run.lines():
        out.print(line, highlight=False, soft_wrap=True, markup=False)
    if run.failed:
        raise GrowthError(f"{len(run.failed)} alert deliveries failed: {'; '.join(run.failed)}")


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    warehouse: Warehouse = None,
    bootstrap_servers: Bootstrap = None,
    topic: Topic = None,
    kafka_config: KafkaConfig = None,
) -> None:
    """Lag, row counts, quarantine by code, freshness of each layer; exit 1 when unhealthy."""
    from orchestration.status import collect_status, status_table

    settings = _settings(
        warehouse=warehouse, bootstrap_servers=bootstrap_servers, topic=topic, kafka_config=kafka_config
    )
    report = collect_status(settings)
    if as_json:
        out.print_json(json.dumps(report, default=str))  # partitions already in numeric order
    else:
        out.print(status_table(report))
    if not report["healthy"]:
        raise typer.Exit(1)


@app.command()
def forget(
    user_ids: Annotated[list[str], typer.Argument(help="User ids (any linked id works).")],
    warehouse: Warehouse = None,
    allow_missing: Annotated[
        bool, typer.Option("--allow-missing", help="Record ids no event carries instead of refusing them.")
    ] = False,
) -> None:
    """Delete every event of these users from raw and derived data, and log the request."""
    from orchestration.forget import forget_users

    result = forget_users(_settings(warehouse=warehouse), user_ids, allow_missing=allow_missing)
    out.print(
        f"forgot {', '.join(result.requested_ids)}: {len(result.linked_ids)} linked ids, "
        f"{result.events_deleted} events and {result.quarantine_deleted} quarantined records deleted"
        + ("; marts rebuilt and snapshot republished" if result.rebuilt else " (no marts built yet)")
    )


@app.command()
def compact(
    target_mb: Annotated[int, typer.Option("--target-mb", min=1, help="Largest merged events file, in MiB.")] = 128,
) -> None:
    """Merge the lake's small batch files into larger ones (spark engine), rows and offsets unchanged."""
    from warehouse.compaction import compact_lake

    settings = _settings()
    if not settings.uses_lake:
        raise GrowthError("growth compact merges the files of the lake: it needs GROWTH_ENGINE=spark")
    out.print(compact_lake(settings, target_mb).summary(settings.lake))


@app.command()
def demo(
    users: Annotated[int, typer.Option("--users", min=1, help="Number of users who sign up.")] = 2000,
    days: Annotated[int, typer.Option("--days", min=1, help="Days of history.")] = 120,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 42,
    warehouse: Warehouse = None,
) -> None:
    """The whole pipeline on embedded defaults: broker, simulate, ingest, spend, build, report, publish."""
    from orchestration.demo import run_demo

    run_demo(_settings(warehouse=warehouse), users=users, days=days, seed=seed, console=out)


def _one_line(exc: BaseException) -> str:
    """What went wrong and where, on one line (an OSError names its file; DuckDB's first line)."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def main() -> None:
    """Entry point: click handles usage errors and exit codes; expected failures print one line."""
    try:
        app()
    except (GrowthError, OSError, duckdb.Error) as exc:
        if _state["debug"]:
            raise
        console.print(f"[red]error:[/red] {_one_line(exc)}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
