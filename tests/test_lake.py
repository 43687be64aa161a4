"""The Parquet lake of the spark engine, against a real broker and real files: what the
ingester writes equals what the DuckDB path stores for the same records, offsets resume from
the file names, a crashed writer's leftovers are ignored and removed, spend goes to the lake
whole or not at all, `growth status` reads the lake, and the engine settings fail in one line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from ingest.consumer import IngestConfig, run_ingest
from ingest.spend import changed_files, load_spend
from orchestration.status import collect_status, status_table
from tests._lake import lake_problems, on_lake, read_lake, records
from tests.test_cli_guards import growth, one_line_error
from tests.test_ingest import event, make_topic, produce
from warehouse.connection import connect
from warehouse.errors import ConfigError
from warehouse.lake import EVENTS, QUARANTINE, SPEND, TEMPORARY, Lake, parse_range, range_name
from warehouse.settings import Settings, load_settings

SMALL_BATCHES = IngestConfig(batch_max_records=150)


def duckdb_table(settings: Settings, table: str, exclude: str) -> tuple[list[tuple[str, str]], list[tuple]]:
    """Column names and types, and rows in Kafka order, of a raw table of the warehouse file."""
    with connect(settings.warehouse, read_only=True) as con:
        return _described(con, f"raw.{table}", exclude)


def lake_table(lake: Lake, table: str, exclude: str) -> tuple[list[tuple[str, str]], list[tuple]]:
    """The same, read from the lake's files as any DuckDB reader would."""
    relation = lake.relation(table)
    assert relation is not None
    with duckdb.connect() as con:
        return _described(con, relation, exclude)


def _described(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    exclude: str,
    order: str = "kafka_topic, kafka_partition, kafka_offset",
) -> tuple[list[tuple[str, str]], list[tuple]]:
    columns = [(name, kind) for name, kind, *_ in con.execute(f"describe select * from {relation}").fetchall()]
    rows = con.execute(f"select * exclude ({exclude}) from {relation} order by {order}").fetchall()
    return columns, rows


def test_the_lake_holds_what_the_duckdb_path_stores_for_the_same_records(settings: Settings, tmp_path: Path) -> None:
    make_topic(settings)
    segment = (  # every fragment column filled: traits, context strings, revenue with its properties, experiment
        b'{"type":"identify","messageId":"seq-9001","userId":"u1","timestamp":"2026-05-01T10:00:00Z",'
        b'"traits":{"plan":"pro"},"context":{"device":{"type":"mobile"},"os":{"name":"iOS"},'
        b'"location":{"country":"DE"},"campaign":{"source":"google","medium":"cpc","name":"spring"}}}',
        b'{"type":"track","event":"Order Completed","messageId":"seq-9002","userId":"u1",'
        b'"timestamp":"2026-05-01T10:00:00.123456+02:00","properties":{"revenue":"12.50","billing_interval":"month",'
        b'"experiment_id":"e1","variation_id":1}}',
    )
    values = [*records(600), event(7), *segment, b"\xff", b"", b"{}"]
    produce(settings, values)
    lake_settings = on_lake(settings, tmp_path)
    on_lake_summary = run_ingest(lake_settings, config=SMALL_BATCHES)
    in_duckdb = run_ingest(replace(settings, group_id=f"{settings.group_id}-duckdb"), config=SMALL_BATCHES)
    assert on_lake_summary.records == in_duckdb.records == len(values)
    assert (on_lake_summary.accepted, on_lake_summary.codes) == (in_duckdb.accepted, in_duckdb.codes)
    assert not settings.warehouse.with_name("lake").exists() and lake_settings.lake.is_dir()

    lake = Lake(lake_settings.lake)
    # Same columns, same types, same values (ingested_at is each run's own time).
    assert lake_table(lake, EVENTS, "ingested_at") == duckdb_table(settings, "events", "ingested_at")
    assert lake_table(lake, QUARANTINE, "quarantined_at") == duckdb_table(
        settings, "events_quarantine", "quarantined_at"
    )
    columns, _ = lake_table(lake, EVENTS, "message_id")
    assert ("ingested_at", "TIMESTAMP WITH TIME ZONE") in columns and ("payload", "JSON") in columns
    assert duckdb.sql(f"select count(*) from {lake.relation(EVENTS)} where ingested_at is null").fetchall() == [(0,)]
    fragments = duckdb.sql(
        f"select traits_raw, device_type_raw, country_raw, revenue_raw, properties_raw, experiment_raw "
        f"from {lake.relation(EVENTS)} where message_id in ('seq-9001', 'seq-9002') order by message_id"
    ).fetchall()
    assert fragments[0][:3] == ('{"plan":"pro"}', "mobile", "DE")
    assert fragments[1][3] == '"12.50"' and "billing_interval" in fragments[1][4] and "e1" in fragments[1][5]

    # Every record in exactly one table once; the files of a partition tile its offsets.
    events, quarantined, leftovers = read_lake(lake, settings.topic)
    assert leftovers == [] and len(events) + len(quarantined) == len(values)
    for partition, next_offset in lake.next_offsets(settings.topic).items():
        ranges = [
            parse_range(path.name) for path in lake.files(EVENTS, settings.topic) if path.parent.name == str(partition)
        ]
        covered = [offset for first, last in filter(None, ranges) for offset in range(first, last + 1)]
        assert covered == list(range(next_offset))
        for path in lake.files(QUARANTINE, settings.topic):
            assert (lake.partition_dir(EVENTS, settings.topic, int(path.parent.name)) / path.name).exists()


def test_offsets_resume_from_the_files_not_the_consumer_group(settings: Settings, tmp_path: Path) -> None:
    make_topic(settings)
    produce(settings, records(500))
    lake_settings = on_lake(settings, tmp_path)
    first = run_ingest(lake_settings, max_events=200, config=SMALL_BATCHES)
    assert 200 <= first.records < 500
    lake = Lake(lake_settings.lake)
    assert sum(lake.next_offsets(settings.topic).values()) == first.records
    produce(settings, records(300, start=500))
    # A new group has no committed offsets: only the files can say where to go on from.
    rest = run_ingest(replace(lake_settings, group_id="another-group"), config=SMALL_BATCHES)
    assert first.records + rest.records == 800
    assert lake_problems(lake, settings.topic, 800) == []
    assert run_ingest(lake_settings, config=SMALL_BATCHES).records == 0


def test_a_crashed_writers_leftovers_are_ignored_and_removed(settings: Settings, tmp_path: Path) -> None:
    make_topic(settings, partitions=1)
    produce(settings, records(300))
    lake_settings = on_lake(settings, tmp_path)
    run_ingest(lake_settings, max_events=100, config=IngestConfig(batch_max_records=100))
    lake = Lake(lake_settings.lake)
    [next_offset] = lake.next_offsets(settings.topic).values()
    events = lake.partition_dir(EVENTS, settings.topic, 0)
    quarantine = lake.partition_dir(QUARANTINE, settings.topic, 0)
    # A temporary file cut short, and a quarantine file whose batch never got its events file.
    leftovers = [
        events / f".{range_name(next_offset, next_offset + 49)}.4242{TEMPORARY}",
        quarantine / f".{range_name(next_offset, next_offset + 49)}.4242{TEMPORARY}",
        quarantine / range_name(next_offset, next_offset + 49),
    ]
    for path in leftovers:
        path.write_bytes(b"PAR1 half a file")
    assert lake.next_offsets(settings.topic) == {0: next_offset}  # neither counts as stored
    run_ingest(replace(lake_settings, group_id="after-the-crash"), config=IngestConfig(batch_max_records=100))
    assert not any(path.exists() for path in leftovers)
    assert lake_problems(lake, settings.topic, 300) == []


SPEND_CSV = "date,channel,campaign,spend\n2026-05-01,google,brand,12.5\n2026-05-02,facebook,,3\n"


def test_spend_goes_to_the_lake_with_the_warehouses_columns(settings: Settings, tmp_path: Path) -> None:
    csv = tmp_path / "in" / "spend_may.csv"
    csv.parent.mkdir()
    csv.write_text(SPEND_CSV)
    lake_settings = on_lake(settings, tmp_path)
    lake = Lake(lake_settings.lake)
    assert changed_files(lake_settings, [csv]) == [csv]
    [loaded] = load_spend(lake_settings, [csv])
    assert loaded.loaded and loaded.rows == 2
    assert lake.files(SPEND) == [lake.spend_file("spend_may.csv")]
    load_spend(settings, [csv])  # the same file into a warehouse, for comparison
    relation = lake.relation(SPEND)
    with connect(settings.warehouse, read_only=True) as con:
        in_warehouse = _described(con, "raw.marketing_spend", "loaded_at", order="source_line")
    with duckdb.connect() as con:
        assert _described(con, str(relation), "loaded_at", order="source_line") == in_warehouse
    assert changed_files(lake_settings, [csv]) == []

    # Loading the file again replaces its rows; a bad version is rejected whole, the old rows stay.
    csv.write_text(SPEND_CSV + "2026-05-03,google,brand,7\n")
    load_spend(lake_settings, [csv])
    assert duckdb.sql(f"select count(*) from {lake.relation(SPEND)}").fetchall() == [(3,)]
    csv.write_text(SPEND_CSV + "2026-05-04,google,brand,lots\n")
    [rejected] = load_spend(lake_settings, [csv])
    assert not rejected.loaded and "column spend" in (rejected.error or "")
    assert duckdb.sql(f"select count(*) from {lake.relation(SPEND)}").fetchall() == [(3,)]
    # A file of the same base name from another folder is refused unless it replaces.
    other = tmp_path / "other" / "spend_may.csv"
    other.parent.mkdir()
    other.write_text(SPEND_CSV)
    [refused] = load_spend(lake_settings, [other])
    assert "pass --replace" in (refused.error or "")
    assert load_spend(lake_settings, [other], replace=True)[0].loaded
    assert not list(lake.root.glob(f"{SPEND}/.*"))  # no temporary file left


def test_status_reads_the_lake(settings: Settings, tmp_path: Path) -> None:
    lake_settings = on_lake(settings, tmp_path)
    assert any("no lake" in problem for problem in collect_status(lake_settings)["problems"])
    make_topic(settings)
    produce(settings, records(200))
    run_ingest(lake_settings, config=SMALL_BATCHES)
    report = collect_status(lake_settings)
    assert report["events"] == 150 and sum(report["quarantine_by_code"].values()) == 50
    assert report["stored_offsets"] == Lake(lake_settings.lake).next_offsets(settings.topic)
    assert report["lag_total"] == 0 and report["lake_files"][EVENTS] > 0
    assert "lake" in str([row for row in status_table(report).columns[0].cells])


def test_engine_settings_fail_in_one_line(tmp_path: Path) -> None:
    assert load_settings(environ={}).engine == "duckdb"
    spark = load_settings(environ={"GROWTH_ENGINE": "spark", "GROWTH_LAKE": "file:///srv/lake"})
    assert (spark.uses_lake, spark.lake, spark.spark.method, spark.spark.master) == (
        True,
        Path("/srv/lake"),
        "session",
        "local[*]",
    )
    thrift = load_settings(
        environ={
            "GROWTH_SPARK_METHOD": "thrift",
            "GROWTH_SPARK_HOST": "spark.internal",
            "GROWTH_SPARK_PORT": "10001",
            "GROWTH_SPARK_CONF": "spark.jars=a.jar,b.jar,spark.executor.memory=2g",
        }
    )
    assert (thrift.spark.host, thrift.spark.port) == ("spark.internal", 10001)
    assert dict(thrift.spark.conf) == {"spark.jars": "a.jar,b.jar", "spark.executor.memory": "2g"}
    for env, message in [
        ({"GROWTH_ENGINE": "postgres"}, "GROWTH_ENGINE='postgres' is not one of: duckdb, spark"),
        ({"GROWTH_LAKE": "s3a://bucket/lake"}, "only a local folder"),
        ({"GROWTH_SPARK_METHOD": "http"}, "GROWTH_SPARK_METHOD='http' is not one of: session, thrift"),
        ({"GROWTH_SPARK_PORT": "70000"}, "GROWTH_SPARK_PORT='70000' is not a port number"),
        ({"GROWTH_SPARK_METHOD": "thrift"}, "needs GROWTH_SPARK_HOST"),
        ({"GROWTH_SPARK_CONF": "master"}, "GROWTH_SPARK_CONF='master': expected key=value"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_settings(environ=env)
    result = growth("status", env={"GROWTH_ENGINE": "spork", "GROWTH_WAREHOUSE": str(tmp_path / "w.duckdb")})
    assert one_line_error(result) == "error: GROWTH_ENGINE='spork' is not one of: duckdb, spark"
