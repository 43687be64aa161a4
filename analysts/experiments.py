"""`growth experiments`: the experiment results of the analyst snapshot, for a person or a script.

It reads ``marts.dim_experiments`` and ``marts.fct_experiment_results`` (experiments.md
"Marts") from the analyst snapshot (``GROWTH_PUBLISHED``), the file `growth sql` and
`growth report` read, never the live warehouse: the results are those of the last publish.

For a person, one block per experiment: its users, the sample-ratio test (a mismatch in red:
every result of that experiment is invalid), then a table with a row per variation of each
metric: users counted, users still in progress, the mean, and for a treatment its relative
lift, the sequential interval (the one decisions are made on, safe to look at every day),
the fixed-horizon interval and the decision. Guardrail losses are called out under the table,
next to any win of the same treatment. ``--json`` gives the same data as numbers and nulls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from warehouse.errors import GrowthError
from warehouse.settings import Settings

MARTS = ("marts.dim_experiments", "marts.fct_experiment_results")
RATE_TYPES = frozenset({"conversion", "retention"})  # means shown as a share of users
NULL = "—"
DECISION_STYLES = {"win": "bold green", "loss": "bold red", "invalid": "bold red", "inconclusive": "yellow"}
SRM_WARNING = "SAMPLE RATIO MISMATCH — results invalid"


@dataclass(frozen=True)
class Experiment:
    """One row of dim_experiments and its rows of fct_experiment_results (control first)."""

    info: dict[str, Any]
    results: list[dict[str, Any]]

    @property
    def experiment_id(self) -> str:
        return str(self.info["experiment_id"])

    @property
    def comparisons(self) -> int:
        """Treatment x metric comparisons: what a reader of the intervals must count."""
        return sum(not row["is_control"] for row in self.results)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, parameters: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, parameters)
    columns = [column[0] for column in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def load_experiments(settings: Settings, experiment_id: str | None = None) -> list[Experiment]:
    """Every experiment of the snapshot in id order, or only ``experiment_id``.

    An unknown id is a :class:`GrowthError` naming it and the ids there are.
    """
    if not settings.published.exists():
        raise GrowthError(f"no analyst snapshot at {settings.published}: run `growth publish` first")
    with duckdb.connect(str(settings.published), read_only=True) as con:
        present = {
            f"{schema}.{table}"
            for schema, table in con.execute(
                "select schema_name, table_name from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
        }
        missing = [name for name in MARTS if name not in present]
        if missing:
            raise GrowthError(
                f"the analyst snapshot {settings.published} has no {' or '.join(missing)}: "
                "run `growth build` and `growth publish` (or `growth demo`)"
            )
        where = "" if experiment_id is None else "where experiment_id = ?"
        parameters = [] if experiment_id is None else [experiment_id]
        infos = _rows(con, f"select * from marts.dim_experiments {where} order by experiment_id", parameters)
        if experiment_id is not None and not infos:
            known = [
                row[0] for row in con.execute("select experiment_id from marts.dim_experiments order by 1").fetchall()
            ]
            listed = f"known ids: {', '.join(known)}" if known else "the snapshot has no experiments"
            raise GrowthError(f"no experiment {experiment_id!r} in the analyst snapshot; {listed}")
        results = _rows(
            con,
            f"select * from marts.fct_experiment_results {where} "
            "order by experiment_id, metric_name, is_control desc, variation_id",
            parameters,
        )
    by_experiment: dict[str, list[dict[str, Any]]] = {}
    for row in results:
        by_experiment.setdefault(row.pop("experiment_id"), []).append(row)
    return [Experiment(info, by_experiment.get(info["experiment_id"], [])) for info in infos]


# -- JSON -------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def experiments_json(experiments: list[Experiment]) -> str:
    """``{"experiments": [{<dim_experiments columns>, "comparisons": n, "results": [...]}]}``;
    numbers stay numbers, dates are ISO strings, null stays null."""
    return json.dumps(
        {
            "experiments": [
                {
                    **{key: _plain(value) for key, value in experiment.info.items()},
                    "comparisons": experiment.comparisons,
                    "results": [{key: _plain(value) for key, value in row.items()} for row in experiment.results],
                }
                for experiment in experiments
            ]
        }
    )


# -- for a person -----------------------------------------------------------------------------


def percent(value: float | None, *, signed: bool = False) -> str:
    """0.1234 → "+12.3 %" (signed) or "12.3 %"; null → "—"."""
    if value is None:
        return NULL
    return f"{value * 100:+.1f} %" if signed else f"{value * 100:.1f} %"


def interval(low: float | None, high: float | None) -> str:
    """A relative-lift interval in percent: "[+3.8 %, +20.8 %]"; null → "—"."""
    if low is None or high is None:
        return NULL
    return f"[{percent(low, signed=True)}, {percent(high, signed=True)}]"


def p_value(value: float | None) -> str:
    if value is None:
        return NULL
    return f"{value:.1e}" if value < 0.001 else f"{value:.3f}"


def _mean(row: dict[str, Any]) -> str:
    value = row["mean"]
    if value is None:
        return NULL
    return percent(value) if row["metric_type"] in RATE_TYPES else f"{value:,.2f}"


def _variation(row: dict[str, Any]) -> Text:
    label = Text(str(row["variation_id"]))
    if row["variation_name"] is not None and row["variation_name"] != row["variation_id"]:
        label.append(f" ({row['variation_name']})", style="dim")
    return label


def _metric(row: dict[str, Any]) -> Text:
    label = Text(str(row["metric_name"]))
    if row["is_guardrail"]:
        label.append(" (guardrail)", style="italic")
    return label


def _header(experiment: Experiment) -> Text:
    info = experiment.info
    text = Text(experiment.experiment_id, style="bold")
    if info["experiment_name"] is not None:
        text.append(f" · {info['experiment_name']}", style="bold")
    running = "running" if info["is_running"] else "not running"
    text.append(
        f"\n{info['users']:,} users in {info['variations']} variations (control: {info['control_id'] or NULL}), "
        f"{running}, exposures {info['first_exposure_date'] or NULL} to {info['last_exposure_date'] or NULL}"
    )
    text.append(
        f"\n{info['multiple_exposure_users']:,} multiple-exposure users left out, "
        f"{info['unusable_exposures']:,} unusable exposures (anonymous or malformed)"
    )
    if info["srm_flag"]:
        text.append(f"\n{SRM_WARNING} (p = {p_value(info['srm_p_value'])})", style="bold red")
    elif info["srm_p_value"] is not None:
        text.append(f"\nsample ratio as configured (p = {p_value(info['srm_p_value'])})", style="green")
    else:
        text.append("\nsample ratio not tested (fewer than 2 variations with users)", style="dim")
    text.append(
        f"\n{experiment.comparisons} treatment-metric comparisons, no correction for multiple comparisons; "
        "decisions on the sequential interval",
        style="dim",
    )
    return text


WRAPPING = ("metric", "variation")  # text that may wrap at spaces; every number stays whole
WHOLE = ("users", "in\nprogress", "mean", "lift", "sequential\ninterval", "fixed\ninterval", "decision")


def _cells(row: dict[str, Any]) -> list[Text]:
    if row["is_control"]:
        comparison = [Text("baseline", style="dim"), Text(""), Text(""), Text("")]
    else:
        decision = row["decision"] or NULL
        comparison = [
            Text(percent(row["relative_lift"], signed=True)),
            Text(interval(row["seq_ci_low"], row["seq_ci_high"]), style="bold"),
            Text(interval(row["ci_low"], row["ci_high"])),
            Text(decision, style=DECISION_STYLES.get(decision, "")),
        ]
    counts = [Text(f"{row['users']:,}"), Text(f"{row['users_in_progress']:,}"), Text(_mean(row))]
    return [_metric(row), _variation(row), *counts, *comparison]


def _table(experiment: Experiment) -> tuple[Table, int]:
    """The experiment's results, and the narrowest width that keeps every number whole."""
    rows = [_cells(row) for row in experiment.results]
    table = Table()
    widths = []
    for index, name in enumerate((*WRAPPING, *WHOLE)):
        texts = [name, *(cells[index].plain for cells in rows)]
        if name in WRAPPING:  # as narrow as its longest word
            width = max(cell_len(word) for text in texts for word in text.split() or [""])
            table.add_column(name, min_width=width)
        else:
            width = max(cell_len(line) for text in texts for line in text.splitlines() or [""])
            table.add_column(name, justify="left" if name == "decision" else "right", no_wrap=True, min_width=width)
        widths.append(width)
    for number, (row, cells) in enumerate(zip(experiment.results, rows, strict=True)):
        following = experiment.results[number + 1] if number + 1 < len(experiment.results) else None
        table.add_row(*cells, end_section=following is not None and following["metric_name"] != row["metric_name"])
    return table, sum(widths) + 3 * len(widths) + 1  # a rule and a space either side of every column


def guardrail_losses(experiment: Experiment) -> list[str]:
    """One line per treatment that loses on a guardrail metric, naming its wins beside it."""
    lines = []
    treatments = dict.fromkeys(row["variation_id"] for row in experiment.results if not row["is_control"])
    for variation in treatments:
        rows = [row for row in experiment.results if row["variation_id"] == variation and not row["is_control"]]
        losses = [row["metric_name"] for row in rows if row["is_guardrail"] and row["decision"] == "loss"]
        if not losses:
            continue
        wins = [row["metric_name"] for row in rows if row["decision"] == "win"]
        line = f"GUARDRAIL LOSS: {variation} loses on {', '.join(losses)}"
        lines.append(line + (f", next to its win on {', '.join(wins)}" if wins else ""))
    return lines


def experiment_view(experiment: Experiment) -> tuple[RenderableType, int]:
    """The experiment's block, and the narrowest width its table fits in whole."""
    parts: list[RenderableType] = [_header(experiment)]
    width = 0
    if experiment.results:
        table, width = _table(experiment)
        parts.append(table)
    else:
        parts.append(Text("no results: no variation has users yet", style="dim"))
    parts.extend(Text(line, style="bold red") for line in guardrail_losses(experiment))
    return Group(*parts), width


def print_experiments(experiments: list[Experiment], console: Console) -> None:
    for number, experiment in enumerate(experiments):
        if number:
            console.print()
        view, width = experiment_view(experiment)
        if width <= console.width:
            console.print(view)
        else:  # narrower than the table: print it whole (a pager such as `less -S` scrolls it)
            Console(file=console.file, width=width, force_terminal=console.is_terminal).print(view)


def show_experiments(settings: Settings, experiment_id: str | None, *, as_json: bool, console: Console) -> None:
    """`growth experiments [ID] [--json]`."""
    experiments = load_experiments(settings, experiment_id)
    if as_json:
        console.print_json(experiments_json(experiments))
    elif not experiments:
        console.print("no experiments in the analyst snapshot yet (no exposure events seen)")
    else:
        print_experiments(experiments, console)
