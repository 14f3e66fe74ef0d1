"""Which of a generation's children LEMONADE accepts: the strategy and its two defaults.

:class:`~optuna_nas.lemonade.LemonadeSampler` proposes children of the front by
network operators and claims the first acceptable one for the trial; an acceptance
strategy decides the order. It sees plain data only (:class:`Evaluated`,
:class:`Child`), never the study: the sampler reads storage and hands it over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.lemonade._operators import Operator
from optuna_nas.surrogate import ObjectiveModel

Density = Callable[[np.ndarray], np.ndarray]
"""``(k, len(Evaluated.costs))`` cheap costs -> ``(k,)`` density of the parents there."""


@dataclass(frozen=True, eq=False)
class Evaluated:
    """The completed trials of the study, as an acceptance strategy sees them.

    Attributes
    ----------
    space:
        The search space.
    archs:
        The completed trials' architectures; row ``i`` of every array is ``archs[i]``.
    values:
        ``(n, M)`` their objective values in the study's order, all minimised
        (maximised objectives negated).
    costs:
        The cheap objectives (``Architecture -> float``, as the user gives them):
        the axes of the parents' density.
    exact:
        Column of ``values`` -> minimised exact function, for the columns known
        before training (:func:`~optuna_nas.search.exact_columns`).
    epochs:
        ``(n,)`` epochs each trial trained itself.
    lineage:
        ``(n,)`` epochs behind each trial's weights, inherited ones included
        (``lineage_epochs``).
    inherits:
        Whether the objective warm-starts children from their parent's weights.
    """

    space: BaseSpace
    archs: Sequence[Architecture]
    values: np.ndarray
    costs: tuple[Callable[[Architecture], float], ...]
    exact: dict[int, Callable[[Architecture], float]]
    epochs: np.ndarray
    lineage: np.ndarray
    inherits: bool

    @property
    def budgets(self) -> np.ndarray | None:
        """:attr:`lineage`, or ``None`` where every trial trained for the same budget."""
        return self.lineage if len(self.lineage) and np.ptp(self.lineage) > 0 else None


class Child(NamedTuple):
    """A proposed child: its architecture, its parent's row in :class:`Evaluated`, the operators."""

    arch: Architecture
    parent: int
    operators: tuple[Operator, ...]

    @property
    def exact(self) -> bool:
        """A network morphism (every operator exact): the child starts as its parent."""
        return all(op.exact for op in self.operators)


@runtime_checkable
class Ranking(Protocol):
    """One sampler call's judgement, returned by :meth:`Acceptance.fit`."""

    values: np.ndarray
    """``(n, M)`` values whose non-dominated rows are the parents: :attr:`Evaluated.values`
    or a model's de-noised version of them."""

    def order(
        self, children: Sequence[Child], density: Density, rng: np.random.Generator
    ) -> Sequence[int]:
        """Indices of ``children``, the one to accept first (all or some of them).

        ``density`` is the parents' density the children were drawn with; ``rng`` the
        sampler's generator (draw from it, for seeded runs to repeat).
        """


@runtime_checkable
class Acceptance(Protocol):
    """How LEMONADE accepts a child; pass one as ``LemonadeSampler(acceptance=...)``.

    ``fit`` is called once per trial, before any child is proposed, with what storage
    holds; the :class:`Ranking` it returns says which trials are the parents and
    orders each generation of children (a second one follows only if every child of
    the first was taken by other workers).
    """

    def fit(self, evaluated: Evaluated, rng: np.random.Generator) -> Ranking:
        """The ranking for this trial's children, from the completed trials."""


class DensityAcceptance:
    """The paper's rule: children drawn with probability proportional to 1 / density.

    The density is the parents' KDE of the cheap objectives, so a child in a sparse
    region of the front is accepted first; the order is a draw without replacement.
    """

    def fit(self, evaluated: Evaluated, rng: np.random.Generator) -> Ranking:
        return _DensityRanking(evaluated.values, evaluated.costs)

    def __repr__(self) -> str:
        return "DensityAcceptance()"


class ImprovementAcceptance:
    """Children ordered by their predicted hypervolume improvement (the default).

    A :class:`~optuna_nas.surrogate.ObjectiveModel` fitted to the completed trials
    predicts each child's expensive objectives (its cheap ones are exact),
    ``optimism`` predictive deviations better than the mean; where children are
    warm-started, a network morphism's child is predicted no worse than its parent.
    The parents are the front of the de-noised values. Where the trials trained for
    different budgets (warm-started lineages), parents and children alike are
    predicted at the fewest epochs any trial trained: the front of parents compares
    networks at equal training, so a fresh large network is not pushed off it by
    small ones that have trained for longer. With fewer than three completed trials it falls back to
    :class:`DensityAcceptance`.

    Parameters
    ----------
    optimism:
        Predictive deviations subtracted from each predicted (minimised) objective.
    """

    def __init__(self, optimism: float = 0.5) -> None:
        self.optimism = optimism

    def fit(self, evaluated: Evaluated, rng: np.random.Generator) -> Ranking:
        if len(evaluated.archs) < 3:
            return DensityAcceptance().fit(evaluated, rng)
        budgets = evaluated.budgets
        # Parents and children are compared at the fewest epochs any trial trained (where
        # the fresh networks are): a long lineage of warm starts is not a better network.
        floor = None if budgets is None else float(budgets.min())
        model = ObjectiveModel(evaluated.space, evaluated.archs, evaluated.values,
                               evaluated.exact, rng, budgets=budgets, compare_at=floor)  # fmt: skip
        return _ImprovementRanking(model, evaluated, self.optimism, floor)

    def __repr__(self) -> str:
        return f"ImprovementAcceptance(optimism={self.optimism})"


class _DensityRanking:
    def __init__(self, values: np.ndarray, costs: Sequence[Callable[[Architecture], float]]):
        self.values = values
        self._costs = costs

    def order(
        self, children: Sequence[Child], density: Density, rng: np.random.Generator
    ) -> Sequence[int]:
        costs = np.array([[f(child.arch) for f in self._costs] for child in children])
        weights = 1.0 / density(costs)
        return rng.choice(len(children), size=len(children), replace=False,
                          p=weights / weights.sum())  # fmt: skip


class _ImprovementRanking:
    def __init__(
        self, model: ObjectiveModel, evaluated: Evaluated, optimism: float, floor: float | None
    ) -> None:
        self.values = model.denoised
        self._model, self._evaluated, self._optimism = model, evaluated, optimism
        self._floor = floor

    def order(
        self, children: Sequence[Child], density: Density, rng: np.random.Generator
    ) -> Sequence[int]:
        model, evaluated = self._model, self._evaluated
        # At the parents' budget: which child makes the equal-training front grow most.
        budgets = None if self._floor is None else [self._floor] * len(children)
        # LEMONADE's premise: a morphism's child starts as its parent and trains on.
        at_most = np.array([
            model.denoised[c.parent] if evaluated.inherits and c.exact
            else np.full(model.denoised.shape[1], np.nan)
            for c in children
        ])  # fmt: skip
        archs = [c.arch for c in children]
        scores = model.improvement(archs, self._optimism, budgets=budgets, at_most=at_most)
        return np.lexsort((rng.random(len(children)), -scores))
