"""Spend CSVs as ad platforms export them: one file per platform and month.

The channel column is spelled the way each platform spells it (capitalised, with stray
spaces); docs/events.md matches it to the users' acquisition channel after lower(trim()).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from devkit.simulator.model import PAID, DayPlan

HEADER = ("date", "channel", "campaign", "spend")


def write_spend_csvs(plans: list[DayPlan], spend_dir: Path) -> list[Path]:
    """Write ``<source>_<yyyy-mm>.csv`` per paid channel and month; returns the files written."""
    labels = {channel.source: channel.spend_label for channel in PAID}
    rows: dict[tuple[str, str], list[tuple[str, str, str, str]]] = defaultdict(list)
    for plan in plans:
        for (source, campaign), amount in sorted(plan.campaign_spend.items()):
            if amount > 0:
                label = labels[source] or source
                rows[(source, plan.day.strftime("%Y-%m"))].append(
                    (plan.day.isoformat(), label, campaign, f"{amount:.2f}")
                )
    spend_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for (source, month), lines in sorted(rows.items()):
        path = spend_dir / f"{source}_{month}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n" if source == "facebook" else "\n")
            writer.writerow(HEADER)
            writer.writerows(lines)
        written.append(path)
    return written
