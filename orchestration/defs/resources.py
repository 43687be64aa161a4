"""Resources configured from the environment of docs/interface.md, resolved at run time."""

from dataclasses import dataclass

from dagster import ConfigurableResource

from warehouse.settings import Settings, load_settings


@dataclass(frozen=True)
class CheckLimits:
    """Thresholds of the raw-layer asset checks."""

    quarantine_share: float = 0.05  # of the records of the last ingest
    freshness_minutes: float = 60.0  # since the last ingest
    volume_low: float = 0.5  # last complete day vs the median of the 7 days before it
    volume_high: float = 2.0


class GrowthResource(ConfigurableResource):
    """Where the warehouse, broker, spend files, snapshot and reports are.

    Empty fields fall back to the environment and then the defaults of docs/interface.md, read
    when a run starts (never at import time), so one code location serves every deployment.
    """

    warehouse: str = ""
    bootstrap_servers: str = ""
    topic: str = ""
    group_id: str = ""
    spend_dir: str = ""
    report_dir: str = ""
    quarantine_share_limit: float | None = None
    freshness_minutes: float | None = None
    volume_band_low: float | None = None
    volume_band_high: float | None = None

    def settings(self) -> Settings:
        return load_settings(
            warehouse=self.warehouse or None,
            bootstrap_servers=self.bootstrap_servers or None,
            topic=self.topic or None,
            group_id=self.group_id or None,
            spend_dir=self.spend_dir or None,
            report_dir=self.report_dir or None,
        )

    def check_limits(self) -> CheckLimits:
        """Field, else GROWTH_QUARANTINE_SHARE_LIMIT / GROWTH_FRESHNESS_MINUTES /
        GROWTH_VOLUME_BAND_LOW / GROWTH_VOLUME_BAND_HIGH, else the defaults; read at run time."""
        settings, default = self.settings(), CheckLimits()

        def pick(value: float | None, env: str, fallback: float) -> float:
            return value if value is not None else settings.tuned(env, fallback)

        return CheckLimits(
            quarantine_share=pick(
                self.quarantine_share_limit, "GROWTH_QUARANTINE_SHARE_LIMIT", default.quarantine_share
            ),
            freshness_minutes=pick(self.freshness_minutes, "GROWTH_FRESHNESS_MINUTES", default.freshness_minutes),
            volume_low=pick(self.volume_band_low, "GROWTH_VOLUME_BAND_LOW", default.volume_low),
            volume_high=pick(self.volume_band_high, "GROWTH_VOLUME_BAND_HIGH", default.volume_high),
        )
