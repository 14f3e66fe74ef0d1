"""Minimal adapter that runs Microsoft Archai 1.0.0's discrete searchers on the NB201 table.

Importing this module imports ``archai``; :mod:`benchmarks.run_nb201` imports it lazily.
An :class:`~archai.discrete_search.api.ArchaiModel`'s ``archid`` is the NB201 string of
the cell and its ``arch`` our :class:`~optuna_nas.Architecture` (Archai clears ``arch``
after evaluation, so everything is decoded from ``archid``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from collections.abc import Callable

import numpy as np
from archai.discrete_search.algos.evolution_pareto import EvolutionParetoSearch
from archai.discrete_search.algos.local_search import LocalSearch
from archai.discrete_search.api import (
    ArchaiModel,
    EvolutionarySearchSpace,
    ModelEvaluator,
    SearchObjectives,
)
from overrides import overrides

from benchmarks.nb201_table import NB201Table
from optuna_nas import Architecture, NB201Space

# Archai logs every iteration at INFO to stdout and to ./archai.log; keep warnings only.
for _name in list(logging.root.manager.loggerDict):
    if _name.startswith("archai"):
        logging.getLogger(_name).setLevel(logging.WARNING)

SEARCHERS = {"archai-evolution": EvolutionParetoSearch, "archai-local": LocalSearch}


class NB201ArchaiSpace(EvolutionarySearchSpace):
    """NB201 cell space in Archai's interface: one random op change, per-edge crossover."""

    def __init__(self, space: NB201Space, seed: int | list[int] | None = None) -> None:
        super().__init__()
        self.space = space
        self.rng = np.random.default_rng(seed)

    def model(self, arch: Architecture) -> ArchaiModel:
        """Wrap an architecture; its ``archid`` is the NB201 string."""
        return ArchaiModel(arch=arch, archid=self.space.nb201_string(arch))

    def tokens(self, model: ArchaiModel) -> list[int]:
        """The six op indices of a model's cell, in NB201 string order."""
        return self.space.to_tokens(self.space.from_nb201_string(model.archid))

    @overrides
    def random_sample(self) -> ArchaiModel:
        return self.model(self.space.sample(self.rng))

    @overrides
    def mutate(self, arch: ArchaiModel) -> ArchaiModel:
        tokens = self.tokens(arch)
        edge = int(self.rng.integers(len(tokens)))
        others = [op for op in range(len(self.space.ops)) if op != tokens[edge]]
        tokens[edge] = others[int(self.rng.integers(len(others)))]
        return self.model(self.space.from_tokens(tokens))

    @overrides
    def crossover(self, arch_list: list[ArchaiModel]) -> ArchaiModel:
        parents = [self.tokens(m) for m in arch_list]
        picks = self.rng.integers(len(parents), size=len(parents[0]))
        child = [parents[p][e] for e, p in enumerate(picks)]
        return self.model(self.space.from_tokens(child))

    @overrides
    def save_arch(self, model: ArchaiModel, file_path: str) -> None:
        with open(file_path, "w") as f:
            f.write(model.archid)

    @overrides
    def load_arch(self, file_path: str) -> ArchaiModel:
        with open(file_path) as f:
            return self.model(self.space.from_nb201_string(f.read()))

    @overrides
    def save_model_weights(self, model: ArchaiModel, file_path: str) -> None:
        pass  # a table benchmark has no weights

    @overrides
    def load_model_weights(self, model: ArchaiModel, file_path: str) -> None:
        pass


class _Budget(Exception):
    """Raised by the error evaluator once the budget of error calls is spent."""


class _TableObjective(ModelEvaluator):
    def __init__(
        self, fn: Callable[[str], float], table: NB201Table, budget: int | None = None
    ) -> None:
        self.fn, self.table, self.budget = fn, table, budget

    @overrides
    def evaluate(self, arch: ArchaiModel, budget: float | None = None) -> float:
        if self.budget is not None and len(self.table.calls) >= self.budget:
            raise _Budget
        return self.fn(arch.archid)


def run_archai(name: str, table: NB201Table, seed: int, budget: int) -> list[str]:
    """Run an Archai searcher with its default settings until ``budget`` error calls.

    Parameters
    ----------
    name:
        ``"archai-evolution"`` (``EvolutionParetoSearch``) or ``"archai-local"``
        (``LocalSearch``).
    table:
        Table whose :meth:`~NB201Table.error` is the compute-intensive objective and
        :meth:`~NB201Table.cost` the cheap one.
    seed:
        Seed of the searcher and of the search space's sampling.
    budget:
        Number of error calls after which the search is stopped.

    Returns
    -------
    list of str
        NB201 strings in the order Archai evaluated their error (``table.calls``); shorter
        than ``budget`` only if the searcher stopped by itself.
    """
    objectives = SearchObjectives()
    objectives.add_objective(
        "error", _TableObjective(table.error, table, budget), higher_is_better=False
    )
    objectives.add_objective(
        table.cost_name,
        _TableObjective(table.cost, table),
        higher_is_better=False,
        compute_intensive=False,
    )
    space = NB201ArchaiSpace(table.space, [seed, 1])  # a stream apart from the table's noise
    with tempfile.TemporaryDirectory() as out:
        # num_iters is the only setting changed: high enough that the budget, not the
        # iteration count, ends the search.
        searcher = SEARCHERS[name](space, objectives, out, num_iters=10 * budget, seed=seed)
        state = searcher.search_state
        # Per-iteration CSV, model files and matplotlib plots are reporting only; skip them.
        state.save_search_state = state.save_pareto_frontier_models = _skip
        state.save_all_2d_pareto_evolution_plots = _skip
        # redirect_stderr hides Archai's tqdm bars.
        with contextlib.suppress(_Budget), contextlib.redirect_stderr(io.StringIO()):
            searcher.search()
    return list(table.calls)


def _skip(*args: object, **kwargs: object) -> None:
    return None
