"""The study's objectives for unevaluated architectures: cheap ones exact, the rest modelled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import optuna
from optuna.trial import FrozenTrial

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.search._history import CheapObjective
from optuna_nas.search._improvement import improvement_scores
from optuna_nas.search._surrogate import ArchitectureGP


class ObjectiveModel:
    """Exact cheap objectives and GP-predicted expensive ones, in the study's columns.

    Each expensive objective gets an :class:`ArchitectureGP` fitted to the completed
    trials. Expensive columns are in the GP's normal-score scale, for the evaluated
    trials (:attr:`denoised`: posterior means) and for candidates alike, so
    hypervolume improvements compare like with like; cheap columns keep their values.

    Parameters
    ----------
    space:
        The search space.
    study:
        The study (its directions and metric names).
    complete:
        Completed trials with their architectures.
    values:
        ``(len(complete), n_objectives)`` minimised values of those trials.
    cheap:
        Study metric name -> exact function, for the objectives known before training.
    rng:
        Source of the GPs' subsamples.
    budgets:
        Training epochs behind each completed trial's values (its ancestors' too when
        it was warm-started); ``None`` when all trained alike. The GPs then see each
        point's budget, so a small network with a long lineage of warm starts is not
        taken for a better architecture than larger ones that trained less.

    Attributes
    ----------
    denoised:
        ``values`` with every expensive column replaced by the GP's posterior mean.
    """

    def __init__(
        self,
        space: BaseSpace,
        study: optuna.Study,
        complete: Sequence[tuple[FrozenTrial, Architecture]],
        values: np.ndarray,
        cheap: Mapping[str, CheapObjective],
        rng: np.random.Generator,
        budgets: Sequence[float] | None = None,
    ) -> None:
        names = study.metric_names or [f"values_{m}" for m in range(values.shape[1])]
        archs = [a for _, a in complete]
        self._signs = np.array(
            [1.0 if d == optuna.study.StudyDirection.MINIMIZE else -1.0 for d in study.directions]
        )
        self._cheap = {m: cheap[n] for m, n in enumerate(names) if n in cheap}
        self._models = {
            m: ArchitectureGP(space, archs, values[:, m], rng=rng, budgets=budgets)
            for m in range(values.shape[1])
            if m not in self._cheap
        }
        self.denoised = values.copy()
        for m, model in self._models.items():
            self.denoised[:, m] = model.predict(archs, budgets)[0]
        self._rows = {trial.number: i for i, (trial, _) in enumerate(complete)}

    def denoised_of(self, trial: FrozenTrial) -> np.ndarray:
        """The de-noised values of one of the completed trials the model was fitted to."""
        return self.denoised[self._rows[trial.number]]

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
        whose cheap columns the caller already computed (a FLOP count runs the
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
                points[:, m] = self._signs[m] * np.array([function(a) for a in archs])
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
