"""Resources configured from the environment of interface.md, resolved at run time."""

from dagster import ConfigurableResource

from ingest.config import Settings, load_settings


class GrowthResource(ConfigurableResource):
    """Where the warehouse, broker, spend files, snapshot and reports are.

    Empty fields fall back to the environment and then the defaults of interface.md, read
    when a run starts (never at import time), so one code location serves every deployment.
    """

    warehouse: str = ""
    bootstrap_servers: str = ""
    topic: str = ""
    group_id: str = ""
    spend_dir: str = ""
    report_dir: str = ""

    def settings(self) -> Settings:
        return load_settings(
            warehouse=self.warehouse or None,
            bootstrap_servers=self.bootstrap_servers or None,
            topic=self.topic or None,
            group_id=self.group_id or None,
            spend_dir=self.spend_dir or None,
            report_dir=self.report_dir or None,
        )
