"""`growth report`: one self-contained HTML growth report per run.

The report reads the analyst snapshot (never the warehouse, so it cannot block the
pipeline), embeds plotly.js once, and works offline. Each run writes
``<out>/<date>/index.html``, refreshes ``<out>/latest/`` and the index of past reports.
"""

from __future__ import annotations

import html
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import plotly.io as pio

from analysts.report.charts import CHARTS, Chart
from warehouse.errors import GrowthError
from warehouse.settings import Settings

log = logging.getLogger(__name__)
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:12px}
h1{font-size:1.6rem} .chart{margin:28px 0;border-top:1px solid #eee;padding-top:8px;overflow:hidden}
@media (max-width:600px){h2{font-size:1.15rem} .takeaway{font-size:.95rem} body{padding:6px}}
.takeaway{font-size:1.05rem;font-weight:600;margin:4px 0 0} .meta{color:#666;font-size:.9rem}
.headline{display:flex;flex-wrap:wrap;gap:12px} .kpi{background:#f5f7fa;border-radius:8px;padding:10px 14px}
.kpi b{display:block;font-size:1.3rem}
"""


def headline_numbers(con: duckdb.DuckDBPyConnection) -> dict[str, float | int | str | None]:
    """The numbers at the top of the report, read straight from the marts."""
    latest = con.execute(
        "select activity_date, dau, wau, mau, stickiness from marts.fct_daily_active_users "
        "order by activity_date desc limit 1"
    ).fetchall()
    [(users, customers, revenue)] = con.execute(
        "select count(*), count(*) filter (where is_customer), coalesce(sum(lifetime_revenue), 0) from marts.dim_users"
    ).fetchall()
    activity_date, dau, wau, mau, stickiness = latest[0] if latest else (None, 0, 0, 0, None)
    return {
        "as_of": str(activity_date) if activity_date else None,
        "dau": dau,
        "wau": wau,
        "mau": mau,
        "stickiness": stickiness,
        "users": users,
        "customers": customers,
        "revenue": float(revenue),
    }


def _section(chart: Chart, first: bool) -> str:
    # The section's <h2> carries the title; the PNG exports keep the figure's own title.
    figure = go.Figure(chart.figure).update_layout(title=None, margin_t=40)
    body = pio.to_html(
        figure,
        full_html=False,
        include_plotlyjs=first,
        config={"responsive": True, "displaylogo": False},
        div_id=f"chart-{chart.key}",
    )
    return (
        f'<section class="chart" id="{chart.key}"><h2>{html.escape(chart.title)}</h2>'
        f'<p class="takeaway">{html.escape(chart.takeaway)}</p>{body}</section>'
    )


def _kpis(numbers: dict[str, float | int | str | None]) -> str:
    stickiness = numbers["stickiness"]
    items = [
        ("MAU", f"{numbers['mau']:,}"),
        ("WAU", f"{numbers['wau']:,}"),
        ("DAU", f"{numbers['dau']:,}"),
        ("Stickiness", f"{stickiness:.0%}" if isinstance(stickiness, float) else "n/a"),
        ("Users", f"{numbers['users']:,}"),
        ("Customers", f"{numbers['customers']:,}"),
        ("Revenue", f"{numbers['revenue']:,.2f}"),
    ]
    return '<div class="headline">' + "".join(f'<div class="kpi">{k}<b>{v}</b></div>' for k, v in items) + "</div>"


def render_report(settings: Settings, out_dir: Path | None = None, *, weekly: bool = False) -> Path:
    """Write today's report from the analyst snapshot; returns the path of its index.html.

    The report goes to ``<out>/<date>/index.html`` (``<date>-weekly`` for the weekly run),
    is copied to ``<out>/latest/``, and ``<out>/index.html`` lists every past report.
    """
    snapshot = settings.published
    if not snapshot.exists():
        raise GrowthError(f"no analyst snapshot at {snapshot}: run `growth build` and `growth publish` first")
    root = out_dir or settings.report_dir
    generated = datetime.now(UTC)
    name = "Weekly growth report" if weekly else "Growth report"
    with duckdb.connect(str(snapshot), read_only=True) as con:
        numbers = headline_numbers(con)
        charts = [build(con) for build in CHARTS]
    sections = "".join(_section(chart, index == 0) for index, chart in enumerate(charts))
    folder = root / (generated.strftime("%Y-%m-%d") + ("-weekly" if weekly else ""))
    folder.mkdir(parents=True, exist_ok=True)
    exported = _export_pngs(charts, folder, settings.browser_path)
    png_note = (
        "PNG exports: " + ", ".join(f'<a href="{chart.key}.png">{html.escape(chart.key)}</a>' for chart in charts)
        if exported
        else "PNG exports skipped: no working Chromium (install Debian's chromium, or set BROWSER_PATH)."
    )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{name} {numbers['as_of'] or ''}</title><style>{STYLE}</style></head><body>"
        f"<h1>{name}</h1>"
        f'<p class="meta">Data up to {numbers["as_of"] or "n/a"}; generated '
        f"{generated:%Y-%m-%d %H:%M} UTC from the analyst snapshot. Hatched bars and open markers are "
        f'incomplete periods.</p>{_kpis(numbers)}{sections}<p class="meta">{png_note}</p></body></html>'
    )
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    latest = root / "latest"
    shutil.rmtree(latest, ignore_errors=True)
    shutil.copytree(folder, latest)
    _write_index(root)
    return path


def _export_pngs(charts: list[Chart], folder: Path, browser_path: str | None) -> bool:
    """PNG copies of the charts (and preview.png) via kaleido when a Chromium is available."""
    for stale in folder.glob("*.png"):
        stale.unlink()
    browser = browser_path or shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None or not Path(browser).exists():
        log.info("no Chromium found: PNG exports skipped (install Debian's chromium to get them)")
        return False
    os.environ["BROWSER_PATH"] = browser  # kaleido finds its browser only through the environment
    try:
        # One browser session for every image: starting Chromium per chart costs seconds each.
        pio.write_images(
            [chart.figure for chart in charts],
            [folder / f"{chart.key}.png" for chart in charts],
            width=1000,
            height=500,
        )
    except Exception as exc:  # kaleido/Chromium trouble must not lose the HTML report
        log.warning("PNG export skipped: %s", exc)
        return False
    shutil.copy(folder / f"{charts[0].key}.png", folder / "preview.png")
    return True


def _write_index(root: Path) -> None:
    runs = sorted((p.name for p in root.iterdir() if p.is_dir() and p.name[:4].isdigit()), reverse=True)
    links = "".join(f'<li><a href="{name}/index.html">{name}</a></li>' for name in runs)
    (root / "index.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>Growth reports</title></head><body><h1>Growth reports</h1>"
        f'<p><a href="latest/index.html">latest</a></p><ul>{links}</ul></body></html>',
        encoding="utf-8",
    )
