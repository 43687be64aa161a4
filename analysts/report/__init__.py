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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import plotly.io as pio

from analysts.report.charts import CHARTS
from analysts.report.experiments import experiment_charts
from analysts.report.revenue import revenue_charts
from analysts.report.segments import segment_charts
from analysts.report.style import Chart, wrap
from analysts.report.tiles import TileGroup, headline_tiles, tiles_html
from warehouse.errors import GrowthError
from warehouse.settings import Settings

log = logging.getLogger(__name__)
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:12px;
color:#222;line-height:1.4}
h1{font-size:1.6rem;margin:.4em 0} h2{font-size:1.25rem;margin:.2em 0}
.chart{margin:28px 0;border-top:1px solid #eee;padding-top:8px}
.chart .plotly-graph-div{width:100%!important;max-width:100%}
.takeaway{font-size:1.05rem;font-weight:600;margin:4px 0} .note,.meta{color:#555;font-size:.9rem;margin:4px 0}
.png{font-size:.85rem;margin:2px 0} .png a{color:#555}
.tiles{margin:12px 0} .period{font-size:1.05rem} .versus{color:#666;font-weight:400;font-size:.9rem}
.headline{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.kpi{background:#f5f7fa;border-radius:8px;padding:8px 12px;min-width:0}
.kpi .label{display:block;color:#444;font-size:.9rem} .kpi b{display:block;font-size:1.3rem;overflow-wrap:anywhere}
.kpi .change{display:block;color:#555;font-size:.85rem}
.warning{color:#c62828;font-weight:700;margin:4px 0} .findings{margin:4px 0;padding-left:1.2em}
.findings li{margin:2px 0} .findings .win{color:#1b7a34;font-weight:600} .findings .alert{color:#c62828;font-weight:700}
@media (max-width:600px){body{padding:8px} h1{font-size:1.3rem} h2{font-size:1.1rem} .takeaway{font-size:.95rem}
.headline{grid-template-columns:repeat(2,minmax(0,1fr))} .kpi b{font-size:1.1rem}}
"""
PLOTLY_CONFIG = {"responsive": True, "displaylogo": False, "displayModeBar": False}
PNG_WIDTH = 1000


def headline_numbers(con: duckdb.DuckDBPyConnection) -> dict[str, float | int | str | None]:
    """Snapshot-wide numbers as of the data end, read straight from the marts.

    For the Dagster materialization metadata and the demo's summary; the page's own tiles
    (periods and changes) come from :func:`analysts.report.tiles.headline_tiles`.
    """
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


def _html_figure(chart: Chart) -> go.Figure:
    """The figure as the page shows it: the section's <h2> carries the title, the legend leads."""
    assert chart.figure is not None
    return go.Figure(chart.figure).update_layout(title=None)


def png_figure(chart: Chart) -> go.Figure:
    """The figure as exported: its title, with warnings (red), takeaway, findings and note as subtitle lines."""
    assert chart.figure is not None
    warnings = [f'<span style="color:#c62828"><b>{html.escape(text)}</b></span>' for text in chart.warnings]
    findings = [
        f'<span style="color:#c62828">{html.escape(line.text)}</span>' if line.alert else html.escape(line.text)
        for line in chart.lines
    ]
    parts = (*warnings, wrap(chart.takeaway, 150), *findings, wrap(chart.note, 160))
    subtitle = "<br>".join(part for part in parts if part)
    lines = subtitle.count("<br>") + 1 if subtitle else 0
    extra = 34 + 17 * lines  # the title and its subtitle lines, above the legend
    layout = chart.figure.layout
    return go.Figure(chart.figure).update_layout(
        title={
            "text": f"<b>{html.escape(chart.title)}</b>",
            "subtitle": {"text": subtitle, "font": {"size": 12, "color": "#555"}},
            "x": 0.01,
            "xanchor": "left",
            "y": 0.99,
            "yanchor": "top",
            "yref": "container",
        },
        margin={"t": (layout.margin.t or 40) + extra},
        height=(layout.height or 420) + extra,
    )


def _section(chart: Chart, first: bool, exported: bool) -> str:
    note = f'<p class="note">{html.escape(chart.note)}</p>' if chart.note else ""
    warnings = "".join(f'<p class="warning">{html.escape(text)}</p>' for text in chart.warnings)
    findings = "".join(
        f'<li class="{html.escape(line.tone)}{" alert" if line.alert else ""}">{html.escape(line.text)}</li>'
        for line in chart.lines
    )
    if findings:
        findings = f'<ul class="findings">{findings}</ul>'
    body = ""
    if chart.figure is not None:
        body = pio.to_html(
            _html_figure(chart),
            full_html=False,
            include_plotlyjs=first,
            config=PLOTLY_CONFIG,
            default_width="100%",
            div_id=f"chart-{chart.key}",
        )
        if exported:
            body += f'<p class="png"><a href="{chart.key}.png">PNG</a></p>'
    return (
        f'<section class="chart" id="{chart.key}"><h2>{html.escape(chart.title)}</h2>{warnings}'
        f'<p class="takeaway">{html.escape(chart.takeaway)}</p>{findings}{note}{body}</section>'
    )


@dataclass(frozen=True)
class Rendered:
    """One rendered report: its page, what its tiles and charts say, whether the PNGs exist.

    ``exported`` is True when every drawn chart has ``<folder>/<key>.png`` (Chromium found).
    """

    path: Path  # <out>/<date>[-weekly]/index.html
    root: Path  # <out>
    tiles: tuple[TileGroup, ...]
    charts: tuple[Chart, ...]
    exported: bool
    currency: str

    @property
    def drawn(self) -> tuple[Chart, ...]:
        """The charts with a figure, in page order (the others are a takeaway only)."""
        return tuple(chart for chart in self.charts if chart.figure is not None)

    def png(self, chart: Chart) -> Path:
        return self.path.parent / f"{chart.key}.png"


def render_report(settings: Settings, out_dir: Path | None = None, *, weekly: bool = False) -> Path:
    """Write today's report from the analyst snapshot; returns the path of its index.html.

    The report goes to ``<out>/<date>/index.html`` (``<date>-weekly`` for the weekly run),
    is copied to ``<out>/latest/``, and ``<out>/index.html`` lists every past report.
    Operational trouble (no Chromium for the PNG exports) goes to the log, never the page.
    """
    return render(settings, out_dir, weekly=weekly).path


def render(settings: Settings, out_dir: Path | None = None, *, weekly: bool = False) -> Rendered:
    """:func:`render_report`, returning what was rendered (for delivery: tiles, charts, PNGs)."""
    snapshot = settings.published
    if not snapshot.exists():
        raise GrowthError(f"no analyst snapshot at {snapshot}: run `growth build` and `growth publish` first")
    root = out_dir or settings.report_dir
    currency = settings.currency
    generated = datetime.now(UTC)
    name = "Weekly growth report" if weekly else "Growth report"
    with duckdb.connect(str(snapshot), read_only=True) as con:
        numbers = headline_numbers(con)
        tiles = headline_tiles(con)
        charts = (
            [build(con, currency) for build in CHARTS]
            + revenue_charts(con, currency)
            + segment_charts(con)
            + experiment_charts(con)
        )
    folder = root / (generated.strftime("%Y-%m-%d") + ("-weekly" if weekly else ""))
    folder.mkdir(parents=True, exist_ok=True)
    exported = _export_pngs(charts, folder, settings.browser_path)
    drawn = [chart for chart in charts if chart.figure is not None]
    sections = "".join(_section(chart, bool(drawn) and chart is drawn[0], exported) for chart in charts)
    as_of = numbers["as_of"]
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{name} {as_of or ''}</title><style>{STYLE}</style></head><body>"
        f"<h1>{name}</h1>"
        f'<p class="meta">Data up to {as_of or "n/a"} \u00b7 money in {html.escape(currency)} \u00b7 '
        f"generated {generated:%Y-%m-%d %H:%M} UTC. Weeks run Monday to Sunday; periods still running are "
        f"left out of the charts and named under them.</p>{tiles_html(tiles, currency)}{sections}</body></html>"
    )
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    latest = root / "latest"
    shutil.rmtree(latest, ignore_errors=True)
    shutil.copytree(folder, latest)
    _write_index(root)
    return Rendered(path, root, tuple(tiles), tuple(charts), exported, currency)


def _export_pngs(charts: list[Chart], folder: Path, browser_path: str | None) -> bool:
    """PNG copies of the charts (and preview.png) via kaleido when a Chromium is available."""
    for stale in folder.glob("*.png"):
        stale.unlink()
    drawn = [chart for chart in charts if chart.figure is not None]
    browser = browser_path or shutil.which("chromium") or shutil.which("chromium-browser")
    if not drawn:
        return False
    if browser is None or not Path(browser).exists():
        log.warning("no Chromium found: PNG exports skipped (install Debian's chromium, or set BROWSER_PATH)")
        return False
    os.environ["BROWSER_PATH"] = browser  # kaleido finds its browser only through the environment
    figures = [png_figure(chart) for chart in drawn]
    try:
        # One browser session for every image: starting Chromium per chart costs seconds each.
        pio.write_images(
            figures,
            [folder / f"{chart.key}.png" for chart in drawn],
            width=PNG_WIDTH,
            height=[int(figure.layout.height) for figure in figures],
        )
    except Exception as exc:  # kaleido/Chromium trouble must not lose the HTML report
        log.warning("PNG export skipped: %s", exc)
        for partial in folder.glob("*.png"):
            partial.unlink()
        return False
    shutil.copy(folder / f"{drawn[0].key}.png", folder / "preview.png")
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
