"""The analyst notebooks run top to bottom on a snapshot built here, and their key numbers
equal the marts (computed independently in SQL below)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import nbformat
import pytest
from nbclient import NotebookClient

from analysts.publish import publish_snapshot
from orchestration.build import run_build
from tests.test_dbt_marts import load_raw
from warehouse.settings import Settings

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("notebooks")
    settings = Settings(warehouse=tmp / "warehouse.duckdb", published=tmp / "published.duckdb")
    load_raw(settings)
    run_build(settings, quiet=True)
    return publish_snapshot(settings)


def execute(name: str, snapshot: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run the notebook in a real kernel; return the JSON its last cell prints."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "outputs not stripped"
    monkeypatch.setenv("GROWTH_PUBLISHED", str(snapshot))
    NotebookClient(notebook, kernel_name="python3", timeout=120, resources={"metadata": {"path": "/"}}).execute()
    last = notebook.cells[-1].outputs
    text = "".join(o["text"] for o in last if o.get("name") == "stdout")
    return dict(json.loads(text))


def one(snapshot: Path, sql: str) -> Any:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_retention_deep_dive(snapshot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = execute("retention_deep_dive", snapshot, monkeypatch)
    [(cohorts, week1)] = one(
        snapshot,
        "select (select count(distinct cohort_start) from marts.fct_retention where grain = 'week'), "
        "(select sum(retained_users) / sum(cohort_size) from marts.fct_retention "
        " where grain = 'week' and period_number = 1 and is_complete)",
    )
    assert numbers == {"cohorts": cohorts, "week1_retention": pytest.approx(week1)}
    assert cohorts >= 2


def test_ltv_cac_by_channel(snapshot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = execute("ltv_cac_by_channel", snapshot, monkeypatch)
    rows = one(snapshot, "select channel, spend, cac, ltv_cac_ratio from marts.fct_channel_economics")
    assert numbers["total_spend"] == pytest.approx(sum(r[1] for r in rows if r[0] != "(all)"))
    assert numbers["total_spend"] == pytest.approx(150.0)  # spend.csv of load_raw within the period
    assert numbers["cac"] == {r[0]: r[2] for r in rows}
    assert numbers["ltv_cac_ratio"] == {r[0]: r[3] for r in rows}


def test_activation_funnel(snapshot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = execute("activation_funnel", snapshot, monkeypatch)
    [(signups, activated)] = one(
        snapshot, "select sum(signups), sum(activated_users) from marts.fct_activation where grain = 'week'"
    )
    funnel = one(
        snapshot,
        "select sum(users) from marts.fct_funnel where acquisition_channel = '(all)' "
        "group by step_number order by step_number",
    )
    assert numbers["signups"] == signups == one(snapshot, "select count(*) from marts.dim_users")[0][0]
    assert numbers["activation_rate"] == pytest.approx(activated / signups)
    assert numbers["funnel_users"] == [int(u) for (u,) in funnel]
