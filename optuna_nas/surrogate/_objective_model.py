"""The objectives of unevaluated architectures: cheap ones exact, the rest modelled."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.surrogate._gp import ArchitectureGP
from optuna_nas.surrogate._improvement import improvement_scores


class ObjectiveModel:
    """Exact cheap objectives and GP-predicted expensive ones, column by column.

    Each expensive objective (a column of ``values`` not in ``exact``) gets an
    :class:`ArchitectureGP` fitted to the evaluated architectures. Expensive columns
    are in the GP's normal-score scale, for the evaluated architectures
    (:attr:`denoised`: posterior means) and for candidates alike, so hypervolume
    improvements compare like with like; exact columns keep their values.

    Parameters
    ----------
    space:
        The search space.
    archs:
        The evaluated architectures.
    values:
        ``(len(archs), n_objectives)`` their objective values, all minimised
        (maximised objectives negated).
    exact:
        Column -> function giving that column's minimised value of any architecture,
        for the objectives known before training (a parameter count).
    rng:
        Source of the GPs' subsamples.
    budgets:
        Training epochs behind each evaluated architecture's values (its ancestors'
        too when it was warm-started); ``None`` when all trained alike. The GPs then
        see each point's budget, so a small network with a long lineage of warm
        starts is not taken for a better architecture than larger ones that trained
        less.
    compare_at:
        With ``budgets``: the budget at which :attr:`denoised` is predicted for every
        architecture, so that the front of the de-noised values compares networks at
        equal training (default: each at its own budget).

    Attributes
    ----------
    denoised:
        ``values`` with every expensive column replaced by the GP's posterior mean.
    """

    def __init__(
        self,
        space: BaseSpace,
        archs: Sequence[Architecture],
        values: np.ndarray,
        exact: Mapping[int, Callable[[Architecture], float]],
        rng: np.random.Generator,
        budgets: Sequence[float] | None = None,
        compare_at: float | None = None,
    ) -> None:
        archs = list(archs)
        self._cheap = {m: exact[m] for m in range(values.shape[1]) if m in exact}
        self._models = {
            m: ArchitectureGP(space, archs, values[:, m], rng=rng, budgets=budgets)
            for m in range(values.shape[1])
            if m not in self._cheap
        }
        self.denoised = values.copy()
        at = budgets if budgets is None or compare_at is None else [compare_at] * len(archs)
        for m, model in self._models.items():
            self.denoised[:, m] = model.posterior_mean(archs, at)

    def improvement(
        self,
        archs: Sequence[Architecture],
        optimism: float = 0.5,
        exact: np.ndarray | None = None,
        budgets: Sequence[float] | None = None,
        at_most: np.ndarray | None = None,
    ) -> np.ndarray:
        """Predicted hypervolume improvement of each architecture over the de-noised front.

        Expensive objectives are scored ``optimism`` predictive deviations better than
        their posterior mean. ``exact``: ``(len(archs), n_objectives)`` minimised values
        whose exact columns the caller already computed (a FLOP count runs the
        network); the other columns are ignored. ``budgets``: the epochs each will
        have trained for (a warm-started child: its parent's and its own).
        ``at_most``: ``(len(archs), n_objectives)`` bounds on the posterior means of the
        predicted columns, in the scale of :attr:`denoised` (NaN: none), applied before
        the optimism; e.g. a network morphism's child starts with its parent's function
        and only trains on, so it is expected to do no worse than its parent.
        """
        points = np.zeros((len(archs), self.denoised.shape[1]))
        predicted = np.zeros(self.denoised.shape[1], dtype=bool)
        for m, function in self._cheap.items():
            if exact is not None:
                points[:, m] = exact[:, m]
            else:
                points[:, m] = np.array([function(a) for a in archs])
        for m, model in self._models.items():
            mean, std = model.predict(archs, budgets)
            if at_most is not None:
                # The bound is on what the child is expected to reach; its uncertainty
                # still earns the optimism bonus, or a larger child bounded by its
                # parent's value would tie with the parent and never be chosen.
                mean = np.fmin(mean, at_most[:, m])
            points[:, m] = mean - optimism * std
            predicted[m] = True
        return improvement_scores(self.denoised, points, predicted)
