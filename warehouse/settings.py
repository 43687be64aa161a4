"""Settings of docs/interface.md, resolved once: command-line option > environment > default.

This is the only module that reads the environment, and it does so only when an entry
point (CLI, Dagster resources, tests) calls :func:`load_settings`, never at import time.
Knobs that belong to one layer (ingest batching, check limits, schedules) arrive as
``tuning``: every ``GROWTH_*`` variable as set, parsed by the layer that owns its default.
"""

from __future__ import annotations

import os
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
    )


def redact(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy safe to print or log: secrets replaced by asterisks."""
    return {key: ("***" if key in SECRET_KEYS else value) for key, value in config.items()}
