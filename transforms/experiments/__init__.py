"""A/B-test analysis: sufficient statistics in, lifts, intervals and decisions out.

:mod:`transforms.experiments.stats` holds the formulas (pure functions on sums);
:mod:`transforms.experiments.engine` reads the dbt interface tables and writes the marts.
"""

from transforms.experiments.engine import ExperimentResultsSummary, build_experiment_results

__all__ = ["ExperimentResultsSummary", "build_experiment_results"]
