"""Alerts wired to people: the monitors' verdicts delivered once per key (docs/delivery.md, "Alerts").

``growth alerts``, the Dagster ``growth_alerts`` asset and the run-failure sensor all come
here. The monitors (``delivery.monitors``) judge the last complete day or a given one; each
alert becomes one message keyed ``alert:<monitor>:<date>`` and goes through
``delivery.ledger.deliver``, which sends it to every alert destination that has not accepted
it yet and records each acceptance in ``ops.deliveries``. A failed Dagster run becomes one
message keyed ``run-failure:<run_id>`` through the same ledger. With no destination
configured nothing is sent, the warehouse is not written, and the lines say so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from delivery import anomaly, ledger, message
from delivery.destinations import load_destinations
from delivery.errors import DeliveryError
from delivery.monitors import Checked, check
from warehouse.settings import Settings

NO_DESTINATION = "no alert destination configured (GROWTH_SMTP_URL with GROWTH_ALERT_RECIPIENTS or "
NO_DESTINATION += "GROWTH_REPORT_RECIPIENTS, GROWTH_SLACK_WEBHOOK_URL, GROWTH_WEBHOOK_URL): nothing sent"


def alert_delivery(alert: anomaly.Alert) -> message.Message:
    """The message of one alert: its summary for people, its facts for machines (the webhook)."""
    return message.alert_message(
        alert.monitor,
        alert.date,
        [message.Alert(alert.summary(), alert.to_dict())],
        title=f"Growth alert: {alert.label}",
    )


def run_failure_key(run_id: str) -> str:
    """``run-failure:<run_id>``: one notification per failed run, whatever ticks again."""
    return f"run-failure:{run_id}"


def run_failure_message(job_name: str, run_id: str, error: str, when: dt.date) -> message.Message:
    """The notification of a failed Dagster run: the job, the run id and the first line of the error."""
    reason = error.strip().splitlines()[0] if error.strip() else "no error message"
    summary = f"Dagster run {run_id} of job {job_name} failed: {reason}"
    data = {"monitor": "run_failure", "job": job_name, "run_id": run_id, "date": when.isoformat(), "error": reason}
    return message.Message(
        kind="alert",
        key=run_failure_key(run_id),
        title=f"Growth pipeline: {job_name} failed",
        date=when,
        alerts=(message.Alert(summary, data),),
    )


def status_line(item: Checked) -> str:
    """One monitor's verdict in one line: ``signups 2026-06-25: 18, range 37.4 - 108.6: ALERT down``."""
    name = item.monitor.name
    if item.day is None:
        return f"{name}: no judged day (no complete day yet)"
    verdict = item.verdict
    if verdict is None:
        return f"{name} {item.day.isoformat()}: no verdict (no value, or fewer than 4 of the 8 same weekdays before it)"
    kind = item.monitor.kind
    text = f"{name} {item.day.isoformat()}: {anomaly.format_value(verdict.value, kind)}"
    if verdict.low is not None and verdict.high is not None:
        text += f", range {anomaly.format_value(verdict.low, kind)} - {anomaly.format_value(verdict.high, kind)}"
    return text + (f": ALERT {verdict.direction}" if verdict.anomalous else ": normal")


@dataclass
class AlertsRun:
    """What one evaluation found and did.

    ``destinations`` are the public names of the alert destinations; ``already`` maps each
    alert's key to the destinations that had accepted it before this run; ``outcomes`` are
    the deliveries made (none on a dry run); ``failed`` the one-line reasons of refusals.
    """

    checked: list[Checked]
    dry_run: bool
    destinations: tuple[str, ...] = ()
    already: dict[str, tuple[str, ...]] = field(default_factory=dict)
    outcomes: list[ledger.Outcome] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def alerts(self) -> list[anomaly.Alert]:
        return [item.alert for item in self.checked if item.alert is not None]

    def lines(self) -> list[str]:
        """The monitors' statuses, each alert's summary, and what was (or would be) sent where."""
        lines = [status_line(item) for item in self.checked]
        alerts = self.alerts
        lines.append(f"{len(alerts)} alert{'' if len(alerts) == 1 else 's'}" + (":" if alerts else ""))
        lines += [f"  {alert.summary()}" for alert in alerts]
        if not alerts:
            return lines
        if not self.destinations:
            lines.append(
                NO_DESTINATION.replace("nothing sent", "nothing would be sent" if self.dry_run else "nothing sent")
            )
            return lines
        if self.dry_run:
            for alert in alerts:
                done = self.already.get(alert.key, ())
                todo = [name for name in self.destinations if name not in done]
                text = f"would send {alert.key} to {', '.join(todo)}" if todo else f"would send {alert.key} nowhere new"
                lines.append(text + (f"; already sent to {', '.join(done)}" if done else ""))
            return lines
        lines += [outcome.summary() for outcome in self.outcomes]
        lines += [f"failed: {reason}" for reason in self.failed]
        return lines


def run_alerts(settings: Settings, date: dt.date | None = None, *, dry_run: bool = False) -> AlertsRun:
    """Judge every monitor on ``date`` (default: each one's latest complete day) and deliver
    each alert once per key, or with ``dry_run`` only say what would go where.

    A refusing destination does not stop the other alerts; the run's ``failed`` lists every
    refusal (the caller raises). Nothing configured: nothing is sent or written.
    """
    checked = check(settings, date)
    destinations = load_destinations(settings).alert
    run = AlertsRun(checked, dry_run, tuple(destination.name for destination in destinations))
    alerts = run.alerts
    if not alerts or not destinations:
        return run
    if dry_run:
        for alert in alerts:
            run.already[alert.key] = tuple(sorted(ledger.delivered(settings, "alert", alert.key)))
        return run
    for alert in alerts:
        try:
            run.outcomes.append(ledger.deliver(settings, alert_delivery(alert), destinations))
        except DeliveryError as exc:
            run.failed.append(str(exc))
    return run


def notify_run_failure(
    settings: Settings, job_name: str, run_id: str, error: str, when: dt.date | None = None
) -> ledger.Outcome:
    """Tell the alert destinations that a run failed, once per run id (``run-failure:<run_id>``).

    With no destination configured nothing is sent and the outcome says so.
    """
    day = when or dt.datetime.now(dt.UTC).date()
    return ledger.deliver(settings, run_failure_message(job_name, run_id, error, day), load_destinations(settings))
