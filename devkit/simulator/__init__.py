"""A believable B2B SaaS product's event stream and marketing spend, deterministic by seed."""

from devkit.simulator.generate import Simulation, default_end_date, generate_records
from devkit.simulator.produce import SimulationSummary, simulate

__all__ = ["Simulation", "SimulationSummary", "default_end_date", "generate_records", "simulate"]
