"""Settings resolve as docs/interface.md says: option, then environment, then default."""

from __future__ import annotations

from pathlib import Path

import pytest

from warehouse.errors import ConfigError
from warehouse.settings import load_settings, redact


def test_defaults_match_interface_md() -> None:
    settings = load_settings(environ={})
    assert settings.warehouse == Path("data/warehouse.duckdb")
    assert settings.topic == "events"
    assert settings.group_id == "growth-ingest"
    assert settings.spend_dir == Path("data/spend")
    assert settings.report_dir == Path("reports")
    assert settings.published == Path("data/published/warehouse.duckdb")
    assert settings.bootstrap_servers is None


def test_environment_beats_default_and_option_beats_environment() -> None:
    env = {"GROWTH_EVENTS_TOPIC": "from_env", "GROWTH_WAREHOUSE": "/env/w.duckdb", "GROWTH_PUBLISHED": "/p.duckdb"}
    assert load_settings(environ=env).topic == "from_env"
    assert load_settings(environ=env).warehouse == Path("/env/w.duckdb")
    assert load_settings(environ=env).published == Path("/p.duckdb")
    assert load_settings(topic="from_option", environ=env).topic == "from_option"


def test_missing_bootstrap_servers_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="KAFKA_BOOTSTRAP_SERVERS"):
        load_settings(environ={}).require_bootstrap()


def test_security_settings_come_from_env_and_options_and_secrets_are_redacted() -> None:
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_PASSWORD": "hunter2", "KAFKA_BOOTSTRAP_SERVERS": "k:9092"}
    settings = load_settings(kafka_config=["sasl.mechanism=PLAIN", "client_id=x"], environ=env)
    config = settings.kafka_client_config()
    assert config["bootstrap_servers"] == ["k:9092"]
    assert config["security_protocol"] == "SASL_SSL"
    assert config["sasl_mechanism"] == "PLAIN"
    assert config["sasl_plain_password"] == "hunter2"
    assert "hunter2" not in repr(redact(config))


def test_malformed_kafka_config_pair_names_the_pair() -> None:
    with pytest.raises(ConfigError, match="'oops'"):
        load_settings(kafka_config=["oops"], environ={})


def test_settings_repr_never_shows_secrets() -> None:
    settings = load_settings(environ={"KAFKA_SASL_PASSWORD": "hunter2"})
    assert "hunter2" not in repr(settings)
