"""The analyst notebooks run top to bottom on a snapshot built here, and their key numbers
equal the marts (computed independently in SQL below)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import nbformat
import pytest
from nbclient import NotebookClient

from analysts.publish import publish_snapshot
from analysts.snapshot import SnapshotNotFoundError, open_snapshot, snapshot_path
from orchestration.build import run_build
from tests._experiment_data import build_experiment_marts, copy_experiment_marts
from tests._segment_data import copy_segment_marts, drop_segment_marts
from tests.test_dbt_marts import load_raw
from warehouse.settings import Settings, load_settings

ROOT = Path(__file__).parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("retention_deep_dive", "ltv_cac_by_channel", "activation_funnel", "experiment_readout")
DOCUMENTED_SNAPSHOT = "data/published/warehouse.duckdb"  # where `growth demo` publishes, from the root


def documented_commands() -> list[str]:
    """The shell lines of the bash blocks in docs/analysts.md's Notebooks section."""
    text = (ROOT / "docs" / "analysts.md").read_text()
    section = text.split("\n## Notebooks\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def documented(program: str) -> str:
    [command] = [line for line in documented_commands() if re.search(rf"\b{program}\b", line)]
    return command


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("notebooks")
    settings = Settings(warehouse=tmp / "warehouse.duckdb", published=tmp / "published.duckdb")
    load_raw(settings)
    run_build(settings, quiet=True)
    published = publish_snapshot(settings)
    # The experiment marts of tests/_experiment_data.READOUT (a win with a guardrail loss, a
    # broken split, three arms), as the experiment engine writes them.
    copy_experiment_marts(build_experiment_marts(tmp / "experiments.duckdb").warehouse, published)
    # The segment marts of tests/_segment_data (two breakdown dimensions, features, accounts).
    copy_segment_marts(published)
    return published


def run(notebook_path: Path, cwd: Path) -> nbformat.NotebookNode:
    """Run the notebook in a real kernel started in ``cwd`` (Jupyter starts it in the notebook's folder)."""
    notebook = nbformat.read(notebook_path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "outputs not stripped"
    NotebookClient(notebook, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def key_numbers(notebook: nbformat.NotebookNode) -> dict[str, Any]:
    """The JSON the notebook's last cell prints."""
    text = "".join(o["text"] for o in notebook.cells[-1].outputs if o.get("name") == "stdout")
    return dict(json.loads(text))


def execute(name: str, snapshot: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run the notebook on the snapshot (an absolute GROWTH_PUBLISHED); return its key numbers."""
    monkeypatch.setenv("GROWTH_PUBLISHED", str(snapshot))
    return key_numbers(run(NOTEBOOKS / f"{name}.ipynb", cwd=Path("/")))


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
    # week 4 pooled over the latest four complete weekly cohorts (tests/_segment_data: 30 Mar to 20 Apr):
    # pro 10/40 + 30/60 = 40/100; free 5/50 + 10/50 + 15/100 + 20/100 = 50/300; (none) 3/10 + 2/10 = 5/20;
    # ads 2/20 + 9/30 + 15/70 + 30/80 = 56/200; organic 3/30 + 4/30 + 8/60 + 20/80 = 35/200; (other) 4/20.
    assert numbers == {
        "cohorts": cohorts,
        "week1_retention": pytest.approx(week1),
        "week4_by_segment": {
            "trait_plan": {"pro": 0.4, "free": pytest.approx(50 / 300), "(none)": 0.25},
            "acquisition_channel": {"ads": 0.28, "organic": 0.175, "(other)": 0.2},
        },
    }
    assert cohorts >= 2
    notebook = nbformat.read(NOTEBOOKS / "retention_deep_dive.ipynb", as_version=4)
    assert any("marts.fct_retention_by_segment" in cell.source for cell in notebook.cells if cell.cell_type == "code")


def test_retention_deep_dive_on_a_snapshot_from_before_the_segment_marts(
    snapshot: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Still runs top to bottom: the segment cells say the mart is missing and draw nothing."""
    old = tmp_path / "published.duckdb"
    shutil.copy(snapshot, old)
    drop_segment_marts(old)
    monkeypatch.setenv("GROWTH_PUBLISHED", str(old))
    notebook = run(NOTEBOOKS / "retention_deep_dive.ipynb", cwd=Path("/"))
    assert key_numbers(notebook)["week4_by_segment"] is None
    assert "No marts.fct_retention_by_segment in this snapshot" in printed(notebook)


def test_ltv_cac_by_channel(snapshot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = execute("ltv_cac_by_channel", snapshot, monkeypatch)
    rows = one(
        snapshot,
        "select channel, spend, signups, customers, ltv, ltv_cac_ratio, cost_per_signup, cac "
        "from marts.fct_channel_economics",
    )
    assert numbers["total_spend"] == pytest.approx(sum(r[1] for r in rows if r[0] != "(all)"))
    assert numbers["total_spend"] == pytest.approx(150.0)  # spend.csv of load_raw within the period
    # the contract of metrics.md, recomputed here: per signup on both sides of LTV:CAC
    assert numbers["cost_per_signup"] == {
        channel: pytest.approx(spend / signups) if signups else None for channel, spend, signups, *_ in rows
    }
    assert numbers["cac_per_customer"] == {
        channel: pytest.approx(spend / customers) if customers else None for channel, spend, _, customers, *_ in rows
    }
    assert numbers["ltv_cac_ratio"] == {
        channel: pytest.approx(ltv / (spend / signups)) if ltv is not None and signups and spend else None
        for channel, spend, signups, _, ltv, *_ in rows
    }
    assert numbers["ltv_cac_ratio"] == {r[0]: pytest.approx(r[5]) if r[5] is not None else None for r in rows}
    # per customer on both sides: CAC per customer (metrics.md's CAC) against revenue per customer
    assert numbers["revenue_per_customer"] == {
        channel: pytest.approx(revenue / customers) if customers else None
        for channel, revenue, customers in one(
            snapshot, "select channel, revenue, customers from marts.fct_channel_economics"
        )
    }
    assert "cac" not in numbers  # never a bare "CAC"
    # Campaigns within a channel (docs/revenue.md), by hand from load_raw: alice came by " Google " /
    # " Brand ", whose 100 in March is hers alone (April's 999 is after the data end); facebook's 50
    # names no campaign: (unattributed), never charged to carol's "Retarget"; bob and dave came direct.
    assert numbers["campaign_cost_per_signup"] == {
        "google / brand": 100.0,
        "facebook / retarget": None,
        "facebook / (unattributed)": None,
        "direct / (none)": None,
    }
    assert any(numbers["cost_per_signup"].values()) and any(numbers["revenue_per_customer"].values())


def test_ltv_cac_charts_compare_like_with_like_in_the_currency(snapshot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every bar chart has one denominator: per signup (LTV, predicted LTV, cost per signup) or
    per customer (revenue per customer, CAC per customer), named on its axis in GROWTH_CURRENCY."""
    monkeypatch.setenv("GROWTH_PUBLISHED", str(snapshot))
    monkeypatch.setenv("GROWTH_CURRENCY", "eur")
    notebook = run(NOTEBOOKS / "ltv_cac_by_channel.ipynb", cwd=Path("/"))
    figures = [
        output["data"]["application/vnd.plotly.v1+json"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "application/vnd.plotly.v1+json" in output.get("data", {})
    ]
    bars = [f for f in figures if all(trace["type"] == "bar" for trace in f["data"])]
    same_denominator = {
        "per signup": ({"LTV", "predicted LTV", "cost per signup"}, "cost per signup"),
        "per customer": ({"revenue per customer", "CAC per customer"}, "CAC per customer"),
    }
    seen = set()
    for figure in bars:
        axis = figure["layout"]["yaxis"]["title"]["text"]
        denominator = axis.removeprefix("EUR ")
        allowed, cost = same_denominator[denominator]
        names = {trace["name"] for trace in figure["data"]}
        assert denominator in figure["layout"]["title"]["text"]
        assert names <= allowed and cost in names and len(names) > 1, (axis, names)
        seen.add(denominator)
    assert seen == set(same_denominator)  # both comparisons are drawn
    assert "usd" not in json.dumps(figures).lower()


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


def printed(notebook: nbformat.NotebookNode) -> str:
    return "".join(
        o.get("text", "") for cell in notebook.cells for o in cell.get("outputs", []) if o.get("name") == "stdout"
    )


def test_experiment_readout(snapshot: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GROWTH_PUBLISHED", str(snapshot))
    # EXPERIMENT_ID = None: the most recently exposed, search_ranking (1000 vs 1300 users on 50/50)
    notebook = run(NOTEBOOKS / "experiment_readout.ipynb", cwd=Path("/"))
    assert key_numbers(notebook) == {
        "experiments": 3,
        "srm_flagged": ["search_ranking"],
        "experiment_id": "search_ranking",
        "decisions": {"ml/activation": "invalid"},
    }
    text = printed(notebook)
    assert "Sample ratio mismatch (p < 0.000001): the split is broken, results are invalid." in text
    assert "ML ranking on activation: invalid, the split is broken" in text
    # the parameter at the top picks another experiment: a healthy split, a win and a guardrail loss
    source = nbformat.read(NOTEBOOKS / "experiment_readout.ipynb", as_version=4)
    [parameter] = [cell for cell in source.cells if cell.source.startswith("EXPERIMENT_ID = None")]
    parameter.source = parameter.source.replace("EXPERIMENT_ID = None", 'EXPERIMENT_ID = "onboarding_checklist"', 1)
    nbformat.write(source, tmp_path / "experiment_readout.ipynb")
    notebook = run(tmp_path / "experiment_readout.ipynb", cwd=Path("/"))
    assert key_numbers(notebook)["decisions"] == {
        "checklist/activation": "win",
        "checklist/revenue": "inconclusive",
        "checklist/support_tickets": "loss",
    }
    text = printed(notebook)
    assert "Sample ratio as configured (p = 0.920)." in text  # 5000 vs 5010 on 50/50
    assert "Sample ratio mismatch" not in text
    # 960 / 4800 vs 1200 / 4800: +25 %, always-valid interval worked out in tests/test_report.py
    assert "Checklist wins on activation: +25.0 % (always-valid interval +10.4 % to +39.6 %)" in text
    assert "3 treatment x metric comparisons, no correction for multiple comparisons." in text
    figures = [
        output["data"]["application/vnd.plotly.v1+json"]
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "application/vnd.plotly.v1+json" in output.get("data", {})
    ]
    [forest] = figures
    assert forest["layout"]["xaxis"]["title"]["text"] == "Relative lift vs control (%)"


@pytest.fixture
def project_copy(snapshot: Path, tmp_path: Path) -> Path:
    """The project's layout as the docs use it: pyproject.toml at the root, the notebooks in
    notebooks/, the snapshot `growth demo` publishes at data/published/warehouse.duckdb."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)  # the docs' .venv/bin/...
    shutil.copytree(NOTEBOOKS, tmp_path / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (tmp_path / DOCUMENTED_SNAPSHOT).parent.mkdir(parents=True)
    shutil.copy(snapshot, tmp_path / DOCUMENTED_SNAPSHOT)
    return tmp_path


@pytest.mark.parametrize("name", NAMES)
def test_documented_launch_with_a_relative_snapshot(
    name: str, project_copy: Path, snapshot: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/analysts.md's `GROWTH_PUBLISHED=data/published/warehouse.duckdb .venv/bin/jupyter lab
    notebooks/`, from the root: its environment, and each kernel started in its folder (as
    JupyterLab starts it), where the relative path does not exist."""
    words = shlex.split(documented("jupyter lab"))
    assignments = [word for word in words if re.fullmatch(r"[A-Z_]+=.*", word)]
    program, subcommand, folder = words[len(assignments) :]
    assert (program, subcommand) == (".venv/bin/jupyter", "lab")
    assert (project_copy / program).is_file() and (project_copy / folder / f"{name}.ipynb").is_file()
    monkeypatch.chdir(project_copy)
    for assignment in assignments:
        monkeypatch.setenv(*assignment.split("=", 1))
    assert os.environ["GROWTH_PUBLISHED"] == DOCUMENTED_SNAPSHOT
    assert not (project_copy / folder / DOCUMENTED_SNAPSHOT).exists()
    numbers = key_numbers(run(project_copy / folder / f"{name}.ipynb", cwd=project_copy / folder))
    monkeypatch.setenv("GROWTH_PUBLISHED", str(snapshot))
    assert numbers == key_numbers(run(NOTEBOOKS / f"{name}.ipynb", cwd=Path("/")))


def test_documented_headless_run_works_as_written(project_copy: Path) -> None:
    """docs/analysts.md's `jupyter execute` line, run by a shell from the project root as written:
    every notebook runs top to bottom on the relative snapshot; without it, the run fails."""
    command = documented("jupyter execute")
    env = {key: value for key, value in os.environ.items() if key != "GROWTH_PUBLISHED"}

    def shell() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command], cwd=project_copy, env=env, capture_output=True, text=True, timeout=600
        )

    result = shell()
    assert result.returncode == 0, result.stderr[-4000:]
    for name in NAMES:
        assert f"Executing notebooks/{name}.ipynb" in result.stderr
    (project_copy / DOCUMENTED_SNAPSHOT).rename(project_copy / "elsewhere.duckdb")
    missing = shell()
    assert missing.returncode != 0
    assert f"no analyst snapshot at {project_copy.resolve() / DOCUMENTED_SNAPSHOT}" in missing.stderr


def test_snapshot_path_is_taken_from_the_project_root(project_copy: Path) -> None:
    settings = load_settings(environ={"GROWTH_PUBLISHED": DOCUMENTED_SNAPSHOT})
    for start in (project_copy, project_copy / "notebooks"):
        assert snapshot_path(settings, start=start) == project_copy.resolve() / DOCUMENTED_SNAPSHOT
        with open_snapshot(settings, start=start) as con:
            assert con.execute("select count(*) from snapshot_info").fetchone() == (1,)
    absolute = load_settings(environ={"GROWTH_PUBLISHED": str(project_copy / "elsewhere.duckdb")})
    assert snapshot_path(absolute, start=project_copy / "notebooks") == project_copy / "elsewhere.duckdb"


def test_missing_snapshot_is_one_clear_line(project_copy: Path) -> None:
    settings = load_settings(environ={"GROWTH_PUBLISHED": "data/published/missing.duckdb"})
    with pytest.raises(SnapshotNotFoundError) as error:
        open_snapshot(settings, start=project_copy / "notebooks")
    message = str(error.value)
    assert "\n" not in message
    assert str(project_copy.resolve() / "data/published/missing.duckdb") in message
    assert "GROWTH_PUBLISHED=data/published/missing.duckdb" in message
    assert not (project_copy / "data/published/missing.duckdb").exists()  # read-only: nothing created
