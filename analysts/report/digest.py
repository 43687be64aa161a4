"""What a delivered report says, in neutral data: headline numbers, chart images, the page.

docs/delivery.md ("Reports"): the email, Slack and webhook carry the report's own headline
tiles, formatted as the page shows them (units, currency, the change on the period before),
and every drawn chart as the PNG the report exported, with its title and takeaway. This
module reads those from a :class:`analysts.report.Rendered` and hands them over as plain
data; ``orchestration`` turns them into a ``delivery.message.Message`` (``analysts`` and
``delivery`` are on the same floor and do not import each other).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from analysts.report import Rendered
from analysts.report.tiles import TileGroup
from warehouse.errors import GrowthError


@dataclass(frozen=True)
class ChartImage:
    """One drawn chart as mail shows it: the exported PNG (title and takeaway drawn in), its words
    beside it. ``png`` is None when the report's PNGs were not exported (no Chromium): Slack and
    the webhook carry the words only and still have them."""

    title: str
    takeaway: str
    png: bytes | None = field(repr=False)


@dataclass(frozen=True)
class Digest:
    """A rendered report as delivery needs it."""

    path: Path  # the report's index.html
    relative: str  # its path under the report folder, e.g. ``2026-12-03/index.html`` (for GROWTH_REPORT_URL)
    headline: dict[str, str]  # label -> value as the page's tiles show it, in page order
    charts: tuple[ChartImage, ...]  # every drawn chart, in page order
    exported: bool  # every drawn chart has its PNG (False: Chromium missing or the export failed)
    html: bytes = field(repr=False)  # the interactive report, one self-contained file


def headline(groups: tuple[TileGroup, ...] | list[TileGroup], currency: str) -> dict[str, str]:
    """The tiles as ``{"Week 23-29 Nov 2026: Active users": "1,204 · +28 (+2%) vs 16-22 Nov 2026"}``.

    (The page writes the week with an en dash, 23\u201329 Nov 2026.)

    The label names the tile's period (a week's and a month's tiles share labels); the value
    is the tile's value and, when there is an earlier complete period, its change on it,
    both exactly as :func:`analysts.report.tiles.tiles_html` writes them.
    """
    numbers: dict[str, str] = {}
    for group in groups:
        for tile in group.tiles:
            value = tile.value_text(currency)
            if tile.value is not None and group.previous:
                value += f" \u00b7 {tile.change_text(currency)} vs {group.previous}"
            numbers[f"{group.period}: {tile.label}"] = value
    return numbers


def digest(rendered: Rendered) -> Digest:
    """The report's headline, chart images and page. Charts are read from the exported PNGs."""
    drawn = rendered.drawn
    try:
        charts = tuple(
            ChartImage(c.title, c.takeaway, rendered.png(c).read_bytes() if rendered.exported else None) for c in drawn
        )
    except FileNotFoundError as exc:
        raise GrowthError(f"the report's PNG {exc.filename} is missing: render the report again") from None
    return Digest(
        path=rendered.path,
        relative=rendered.path.relative_to(rendered.root).as_posix(),
        headline=headline(rendered.tiles, rendered.currency),
        charts=charts,
        exported=rendered.exported or not drawn,
        html=rendered.path.read_bytes(),
    )
