"""Objectives: a registry of named metrics and the costs computed without training."""

from optuna_nas.objectives._cost import (
    LatencyMeasurement,
    count_flops,
    count_network,
    count_params,
    measure_latency,
    thop_macs,
)
from optuna_nas.objectives._registry import (
    ObjectiveSpec,
    format_value,
    get_objective,
    list_objectives,
    register_objective,
)

__all__ = [
    "LatencyMeasurement",
    "ObjectiveSpec",
    "count_flops",
    "count_network",
    "count_params",
    "format_value",
    "get_objective",
    "list_objectives",
    "measure_latency",
    "register_objective",
    "thop_macs",
]
