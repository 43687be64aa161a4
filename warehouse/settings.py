"""Settings of docs/interface.md, resolved once: command-line option > environment > default.

This is the only module that reads the environment, and it does so only when an entry
point (CLI, Dagster resources, tests) calls :func:`load_settings`, never at import time.
Knobs that belong to one layer (ingest batching, check limits, schedules) arrive as
``tuning``: every ``GROWTH_*`` variable as set, parsed by the layer that owns its default.
The engine settings (``GROWTH_ENGINE``, ``GROWTH_LAKE``, ``GROWTH_SPARK_*``) are parsed and
checked here, whatever the engine, so a typo fails at once in one line, not in the middle of
a Spark session's start-up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from warehouse.errors import ConfigError

SECURITY_ENV = {
    "security_protocol": "KAFKA_SECURITY_PROTOCOL",
    "sasl_mechanism": "KAFKA_SASL_MECHANISM",
    "sasl_plain_username": "KAFKA_SASL_USERNAME",
    "sasl_plain_password": "KAFKA_SASL_PASSWORD",
    "ssl_cafile": "KAFKA_SSL_CAFILE",
}
SECRET_KEYS = frozenset({"sasl_plain_password", "ssl_password", "sasl_oauth_token_provider"})
DEFAULT_MEMORY_LIMIT = "6GB"
T = TypeVar("T", int, float, str)
ENGINES = ("duckdb", "spark")
SPARK_METHODS = ("session", "thrift")
DEFAULT_SPARK_MASTER = "local[*]"  # `session`: Spark in this process, on every core
DEFAULT_THRIFT_PORT = 10000  # the Spark Thrift Server's (HiveServer2) port
SPARK_CONF_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")


@dataclass(frozen=True)
class SparkSettings:
    """How dbt reaches Spark (``GROWTH_SPARK_*``): in-process (``session``) or a Thrift server."""

    method: str = "session"
    host: str | None = None  # the Thrift server (``thrift`` only)
    port: int = DEFAULT_THRIFT_PORT  # ``thrift`` only
    conf: Mapping[str, str] = field(default_factory=dict)  # spark.* settings, in the order given

    @property
    def master(self) -> str:
        """``spark.master`` of a ``session``: local on every core unless the conf names a cluster."""
        return self.conf.get("spark.master", DEFAULT_SPARK_MASTER)


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to find the warehouse, the broker and the files."""

    warehouse: Path = Path("data/warehouse.duckdb")
    bootstrap_servers: str | None = None
    topic: str = "events"
    group_id: str = "growth-ingest"
    kafka_config: Mapping[str, Any] = field(default_factory=dict, repr=False)  # may hold secrets
    spend_dir: Path = Path("data/spend")
    report_dir: Path = Path("reports")
    published: Path = Path("data/published/warehouse.duckdb")
    memory_limit: str = DEFAULT_MEMORY_LIMIT  # DuckDB buffer pool of a writer (spills beyond it)
    browser_path: str | None = None  # Chromium for PNG exports (kaleido's BROWSER_PATH)
    currency: str = "USD"  # the report labels money with it (GROWTH_CURRENCY); nothing is converted
    tuning: Mapping[str, str] = field(default_factory=dict)  # GROWTH_* variables as set
    dagster_home: Path | None = None  # DAGSTER_HOME; else data/dagster, the instance `make ui` opens
    engine: str = "duckdb"  # GROWTH_ENGINE: one of ENGINES
    lake: Path = Path("data/lake")  # GROWTH_LAKE: the raw layer as Parquet, with the spark engine
    spark: SparkSettings = field(default_factory=SparkSettings)

    def tuned(self, name: str, default: T) -> T:
        """The ``GROWTH_*`` knob ``name`` parsed as ``default``'s type, else ``default``."""
        raw = self.tuning.get(name)
        if not raw:
            return default
        try:
            return type(default)(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a {type(default).__name__}") from None

    @property
    def data_dir(self) -> Path:
        """Where run-time state (pid files, locks, spill files) lives: beside the warehouse."""
        return self.warehouse.parent

    @property
    def uses_lake(self) -> bool:
        """The raw layer lives in the Parquet lake (spark engine), not in the DuckDB file."""
        return self.engine == "spark"

    @property
    def dagster_instance_dir(self) -> Path:
        return self.dagster_home or self.data_dir / "dagster"

    def require_bootstrap(self) -> str:
        if not self.bootstrap_servers:
            raise ConfigError(
                "no Kafka bootstrap servers: pass --bootstrap-servers or set KAFKA_BOOTSTRAP_SERVERS "
                "(or run `growth broker start` and use the address it prints)"
            )
        return self.bootstrap_servers

    def kafka_client_config(self) -> dict[str, Any]:
        """kafka-python keyword arguments shared by producers, consumers and admin clients."""
        return {"bootstrap_servers": self.require_bootstrap().split(","), **self.kafka_config}

    def with_bootstrap(self, servers: str) -> Settings:
        return replace(self, bootstrap_servers=servers)


def _parse_kafka_config(pairs: Sequence[str]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--kafka-config expects KEY=VALUE, got {pair!r}")
        parsed[key.strip().replace(".", "_")] = value
    return parsed


def _choice(var: str, raw: str | None, allowed: Sequence[str]) -> str:
    value = (raw or allowed[0]).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{var}={raw!r} is not one of: {', '.join(allowed)}")
    return value


def _lake(raw: str | None) -> Path:
    """A local folder (or a ``file:`` URI of one); object storage URIs are a later step."""
    if not raw:
        return Settings.lake
    if raw.startswith("file://"):
        return Path(raw.removeprefix("file://"))
    if "://" in raw:
        raise ConfigError(
            f"GROWTH_LAKE={raw!r}: only a local folder (or a file:// URI) is supported for now, "
            "not object storage or HDFS (see docs/scale-out.md)"
        )
    return Path(raw)


def _spark_conf(raw: str | None) -> dict[str, str]:
    """``key=value,key=value``. A piece that does not start with a key continues the value
    before it, so that list values keep their commas (``spark.jars=a.jar,b.jar``,
    ``spark.driver.extraJavaOptions=-Da=1,-Db=2``)."""
    conf: dict[str, str] = {}
    last: str | None = None
    for piece in (raw or "").split(","):
        key, sep, value = piece.partition("=")
        if sep and SPARK_CONF_KEY.fullmatch(key.strip()):
            last = key.strip()
            conf[last] = value.strip()
        elif not piece.strip():
            continue
        elif last is not None:
            conf[last] += "," + piece.strip()
        else:
            raise ConfigError(f"GROWTH_SPARK_CONF={raw!r}: expected key=value,... (got {piece!r})")
    return conf


def _spark(env: Mapping[str, str]) -> SparkSettings:
    method = _choice("GROWTH_SPARK_METHOD", env.get("GROWTH_SPARK_METHOD"), SPARK_METHODS)
    host = (env.get("GROWTH_SPARK_HOST") or "").strip() or None
    raw_port = (env.get("GROWTH_SPARK_PORT") or "").strip()
    port = int(raw_port) if raw_port.isdigit() else -1 if raw_port else DEFAULT_THRIFT_PORT
    if not 0 < port < 65536:
        raise ConfigError(f"GROWTH_SPARK_PORT={raw_port!r} is not a port number (1-65535)")
    if method == "thrift" and host is None:
        raise ConfigError("GROWTH_SPARK_METHOD=thrift needs GROWTH_SPARK_HOST (the Spark Thrift Server's host)")
    return SparkSettings(method=method, host=host, port=port, conf=_spark_conf(env.get("GROWTH_SPARK_CONF")))


def load_settings(
    *,
    warehouse: Path | str | None = None,
    bootstrap_servers: str | None = None,
    topic: str | None = None,
    group_id: str | None = None,
    kafka_config: Sequence[str] = (),
    spend_dir: Path | str | None = None,
    report_dir: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings in the documented order: option, then environment, then default."""
    env = os.environ if environ is None else environ
    defaults = Settings()

    def pick(option: Any, var: str, default: Any) -> Any:
        if option not in (None, ""):
            return option
        return env.get(var) or default

    security = {key: env[var] for key, var in SECURITY_ENV.items() if env.get(var)}
    security.update(_parse_kafka_config(kafka_config))
    return Settings(
        warehouse=Path(pick(warehouse, "GROWTH_WAREHOUSE", defaults.warehouse)),
        bootstrap_servers=pick(bootstrap_servers, "KAFKA_BOOTSTRAP_SERVERS", None),
        topic=pick(topic, "GROWTH_EVENTS_TOPIC", defaults.topic),
        group_id=pick(group_id, "GROWTH_CONSUMER_GROUP", defaults.group_id),
        kafka_config=security,
        spend_dir=Path(pick(spend_dir, "GROWTH_SPEND_DIR", defaults.spend_dir)),
        report_dir=Path(pick(report_dir, "GROWTH_REPORT_DIR", defaults.report_dir)),
        published=Path(pick(None, "GROWTH_PUBLISHED", defaults.published)),
        memory_limit=env.get("GROWTH_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT,
        browser_path=env.get("BROWSER_PATH") or None,
        currency=(env.get("GROWTH_CURRENCY") or defaults.currency).strip().upper(),
        tuning={key: value for key, value in env.items() if key.startswith("GROWTH_")},
        dagster_home=Path(env["DAGSTER_HOME"]) if env.get("DAGSTER_HOME") else None,
        engine=_choice("GROWTH_ENGINE", env.get("GROWTH_ENGINE"), ENGINES),
        lake=_lake(env.get("GROWTH_LAKE")),
        spark=_spark(env),
    )


def redact(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy safe to print or log: secrets replaced by asterisks."""
    return {key: ("***" if key in SECRET_KEYS else value) for key, value in config.items()}
