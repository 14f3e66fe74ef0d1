"""The shared architecture encoding: every search algorithm speaks it.

Plain data, validation and hashing: this layer imports neither torch nor any
other ``optuna_nas`` subpackage (``tests/test_layering.py`` checks it).
"""

from optuna_nas.encoding._architecture import Architecture, Cell, Edge, Node
from optuna_nas.encoding._darts import DartsSpace
from optuna_nas.encoding._identity import identity_init_edges
from optuna_nas.encoding._nb201 import NB201Space
from optuna_nas.encoding._ops import CELL_RULES, DARTS_OPS, NB201_OPS, OP_TABLE, CellRule, OpSpec
from optuna_nas.encoding._space import BaseSpace, register_network_builder

__all__ = [
    "CELL_RULES",
    "DARTS_OPS",
    "NB201_OPS",
    "OP_TABLE",
    "Architecture",
    "BaseSpace",
    "Cell",
    "CellRule",
    "DartsSpace",
    "Edge",
    "NB201Space",
    "Node",
    "OpSpec",
    "identity_init_edges",
    "register_network_builder",
]
