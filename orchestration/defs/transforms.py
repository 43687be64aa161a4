"""Transforms domain: Python models downstream of the dbt marts."""

from dagster import AssetKey, MaterializeResult, asset

from orchestration.defs.ingest import WAREHOUSE_POOL
from orchestration.defs.resources import GrowthResource
from orchestration.pipeline import run_transforms


@asset(
    group_name="transforms",
    key=AssetKey(["marts", "fct_predicted_ltv"]),
    deps=[AssetKey(["marts", "dim_users"]), AssetKey(["marts", "fct_channel_economics"])],
    pool=WAREHOUSE_POOL,
    description="Predictive LTV per user and channel (BG/NBD + Gamma-Gamma); also writes fct_channel_predicted_ltv.",
)
def predictive_ltv(growth: GrowthResource) -> MaterializeResult:
    summary = run_transforms(growth.settings())
    return MaterializeResult(
        metadata={
            "users": summary.users,
            "customers": summary.customers,
            "repeat_customers": summary.repeat_customers,
            "horizon_months": summary.horizon_months,
        }
    )
