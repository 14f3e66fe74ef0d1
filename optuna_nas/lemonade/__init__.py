"""LEMONADE (Elsken, Metzen, Hutter, ICLR 2019): network operators on architectures."""

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
    "LemonadeSampler",
    "OPERATORS",
    "Operator",
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
