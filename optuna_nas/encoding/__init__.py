"""The shared architecture encoding: every search algorithm speaks it."""

from optuna_nas.encoding._architecture import Architecture, Cell, Edge, Node
from optuna_nas.encoding._darts import DartsSpace
from optuna_nas.encoding._nb201 import NB201Space
from optuna_nas.encoding._ops import CELL_RULES, DARTS_OPS, NB201_OPS, CellRule
from optuna_nas.encoding._space import BaseSpace

__all__ = [
    "CELL_RULES",
    "DARTS_OPS",
    "NB201_OPS",
    "Architecture",
    "BaseSpace",
    "Cell",
    "CellRule",
    "DartsSpace",
    "Edge",
    "NB201Space",
    "Node",
]
