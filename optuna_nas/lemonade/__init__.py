"""LEMONADE (Elsken, Metzen, Hutter, ICLR 2019): network operators on architectures."""

from optuna_nas.lemonade._acceptance import (
    Acceptance,
    Child,
    DensityAcceptance,
    Evaluated,
    ImprovementAcceptance,
    Ranking,
)
from optuna_nas.lemonade._operators import (
    OPERATORS,
    Operator,
    activate_edge,
    add_cell,
    add_skip,
    cheapen,
    deepen,
    drop_cell,
    enlarge_kernel,
    prune,
    random_child,
    remove_op,
    widen,
)
from optuna_nas.lemonade._sampler import LemonadeSampler

__all__ = [
    "Acceptance",
    "Child",
    "DensityAcceptance",
    "Evaluated",
    "ImprovementAcceptance",
    "LemonadeSampler",
    "OPERATORS",
    "Operator",
    "Ranking",
    "activate_edge",
    "add_cell",
    "add_skip",
    "cheapen",
    "deepen",
    "drop_cell",
    "enlarge_kernel",
    "prune",
    "random_child",
    "remove_op",
    "widen",
]
