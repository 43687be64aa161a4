"""Alerts domain: the monitors judged after each build, and a sensor that reports failed runs.

``growth_alerts`` runs after the dbt models the monitors read (in the hourly job, and in
the demo's run of every asset): it judges each monitor's latest complete day and delivers
every alert once per key (``orchestration.alerts``), with the alerts in its metadata. It
writes ``ops.deliveries``, so it is in the ``warehouse`` pool.

``notify_run_failure`` is a run-failure sensor over this code location's jobs: it sends the
alert destinations one message per failed run (key ``run-failure:<run_id>``), naming the
job, the run and the first line of the error. With no destination configured neither sends
anything, and each says so in its log.
"""

import re
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    DefaultSensorStatus,
    MaterializeResult,
    MetadataValue,
    RunFailureSensorContext,
    SkipReason,
    asset,
    run_failure_sensor,
)

from delivery.errors import DeliveryError
from orchestration.alerts import AlertsRun, notify_run_failure, run_alerts, status_line
from orchestration.defs.ingest import WAREHOUSE_POOL
from orchestration.defs.resources import GrowthResource

# What delivery/monitors.py reads: the reporting period, the monitored marts and the segments.
MONITORED = [
    AssetKey(["intermediate", "int_reporting_period"]),
    AssetKey(["marts", "fct_daily_active_users"]),
    AssetKey(["marts", "dim_users"]),
    AssetKey(["marts", "fct_activation"]),
    AssetKey(["intermediate", "int_user_days_active"]),
    AssetKey(["intermediate", "int_conversion_events"]),
    AssetKey(["intermediate", "int_user_segments"]),
]
# "dagster._core.definitions.events.Failure: ..." reads "Failure: ..."
MODULE_PATH = re.compile(r"^(?:\w+\.)+(?=\w+: )")


def alerts_metadata(run: AlertsRun) -> dict[str, Any]:
    """The Dagster UI's view: every monitor's status, the alerts as data, what was sent."""
    return {
        "alerts": len(run.alerts),
        "monitors": MetadataValue.md("\n".join(f"- {status_line(item)}" for item in run.checked)),
        "alert_details": MetadataValue.json([alert.to_dict() for alert in run.alerts]),
        "summaries": MetadataValue.md("\n".join(f"- {alert.summary()}" for alert in run.alerts) or "no alert"),
        "delivery": MetadataValue.md("\n".join(f"- {line}" for line in run.lines()[len(run.checked) :])),
        "destinations": ", ".join(run.destinations) or "none configured",
    }


@asset(
    group_name="alerts",
    deps=MONITORED,
    pool=WAREHOUSE_POOL,
    description="The metric monitors (signups, DAU, revenue, activation rate, quarantine share) judged on the "
    "last complete day; each alert delivered once to the alert destinations (ops.deliveries).",
)
def growth_alerts(context: AssetExecutionContext, growth: GrowthResource) -> MaterializeResult:
    run = run_alerts(growth.settings())
    for line in run.lines():
        context.log.info(line)
    if run.failed:
        raise DeliveryError(f"{len(run.failed)} alert deliveries failed: {'; '.join(run.failed)}")
    return MaterializeResult(metadata=alerts_metadata(run))


def failure_reason(context: RunFailureSensorContext) -> str:
    """The failed steps and the innermost error of the first, else the run's failure message."""
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        if data is not None and data.error is not None:
            error = data.error
            while error.cause is not None:
                error = error.cause
            first = (error.message.strip().splitlines() or [error.cls_name or "unknown error"])[0]
            return f"step {event.step_key}: {MODULE_PATH.sub('', first)}"
    return context.failure_event.message or "the run failed"


@run_failure_sensor(
    name="notify_run_failure",
    description="Tell the alert destinations (GROWTH_SLACK_WEBHOOK_URL, GROWTH_WEBHOOK_URL, alert email) "
    "that a run failed, once per run id.",
    default_status=DefaultSensorStatus.RUNNING,
)
def notify_run_failure_sensor(context: RunFailureSensorContext, growth: GrowthResource) -> SkipReason | None:
    run = context.dagster_run
    outcome = notify_run_failure(growth.settings(), run.job_name, run.run_id, failure_reason(context))
    context.log.info(outcome.summary())
    if not outcome.configured:
        return SkipReason(outcome.summary())
    return None
