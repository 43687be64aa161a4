"""Schedule cadences: UTC defaults of issue #5, each overridable from the environment.

Cron strings are read when the code location loads (a reload of the location picks up a
change); the resources, in contrast, read their environment only when a run starts.
"""

import os

SCHEDULE_TIMEZONE_ENV = "GROWTH_SCHEDULE_TIMEZONE"
DEFAULT_CRONS = {
    "GROWTH_INGEST_CRON": "*/15 * * * *",  # ingest every 15 minutes
    "GROWTH_HOURLY_CRON": "0 * * * *",  # ingest + build + snapshot hourly
    "GROWTH_DAILY_REPORT_CRON": "0 7 * * *",  # daily report at 07:00
    "GROWTH_WEEKLY_REPORT_CRON": "0 7 * * 1",  # weekly report on Mondays at 07:00
}


def cron(env: str) -> str:
    """The cron string of `env`, or its default when unset or empty."""
    return os.environ.get(env) or DEFAULT_CRONS[env]


def timezone() -> str:
    return os.environ.get(SCHEDULE_TIMEZONE_ENV) or "UTC"
