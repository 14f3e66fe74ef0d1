from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.trial import FrozenTrial, TrialState
from scipy.stats import gaussian_kde

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.lemonade._operators import OPERATORS, Operator, random_child
from optuna_nas.search import (
    CheapObjective,
    TrialArchitectures,
    _attrs,
    cheap_objectives,
    pareto_indices,
)


class LemonadeSampler(BaseSampler):
    """LEMONADE: Lamarckian evolution over network operators (Elsken et al., ICLR 2019).

    Every trial is one accepted child. The population is the set of non-dominated
    completed trials, rebuilt from storage on every call, so any number of workers
    (and a restarted process) share it. Per child:

    1. fit a Gaussian KDE to the population's cheap objectives (log scale);
    2. draw parents with probability proportional to 1 / density (sparse regions of
       the front first);
    3. make ``n_proposals`` children with random operators (network morphisms and
       approximate morphisms), dropping architectures already evaluated or running;
    4. accept one with probability proportional to 1 / density of its cheap objectives.

    The parent's trial number, the operator and whether to distil (approximate
    morphisms) are written to the child trial's system attrs; ``NASObjective`` then
    warm-starts the child from the parent's weights.

    Parameters
    ----------
    space:
        The search space (params are those of ``space.distributions()``).
    cheap_objectives:
        Study metric name -> ``Architecture -> float`` for the objectives known before
        training. Default: every study metric that names a cheap registered objective
        (``params``, ``flops``, ...), evaluated for the study's input shape.
    n_proposals:
        Children proposed (and scored on cheap objectives) per accepted child.
    n_initial:
        Random architectures evaluated before evolution starts.
    seed:
        Seed of the sampler's random choices.
    operators:
        The operators to use (default: all of :data:`~optuna_nas.lemonade.OPERATORS`).
    fallback_sampler:
        Samples params the space does not own (default ``RandomSampler``).
    """

    def __init__(
        self,
        space: BaseSpace,
        *,
        cheap_objectives: Mapping[str, CheapObjective] | None = None,
        n_proposals: int = 64,
        n_initial: int = 20,
        seed: int | None = None,
        operators: Sequence[Operator] | None = None,
        fallback_sampler: BaseSampler | None = None,
    ) -> None:
        if n_proposals < 1 or n_initial < 1:
            raise ValueError("n_proposals and n_initial must be >= 1.")
        self._space = space
        self._cheap = dict(cheap_objectives) if cheap_objectives is not None else None
        self._n_proposals = n_proposals
        self._n_initial = n_initial
        self._operators = tuple(operators) if operators is not None else OPERATORS
        self._rng = np.random.default_rng(seed)
        self._fallback = fallback_sampler or RandomSampler(seed=seed)
        self._distributions = space.distributions()
        self._archs = TrialArchitectures(space)

    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()
        self._fallback.reseed_rng()

    # ------------------------------------------------------------------ BaseSampler API
    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return dict(self._distributions)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        trials = study._get_trials(deepcopy=False, use_cache=True)
        taken = self._archs.taken(trials)
        complete = self._archs.completed(trials)
        child = None
        if len(complete) >= self._n_initial:
            child = self._evolve(study, trial, complete, taken)
        if child is None:
            child = self._random_new(taken)
        return self._space.to_params(child)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._fallback.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._fallback.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._fallback.after_trial(study, trial, state, values)

    # ------------------------------------------------------------------ the algorithm
    def _random_new(self, taken: set[str]) -> Architecture:
        for _ in range(1000):
            arch = self._space.sample(self._rng)
            if arch.fingerprint not in taken:
                return arch
        return arch  # the space is (nearly) exhausted: repeat rather than fail

    def _evolve(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        complete: list[tuple[FrozenTrial, Architecture]],
        taken: set[str],
    ) -> Architecture | None:
        cheap = cheap_objectives(study, self._cheap)
        population = pareto_indices(study, [t for t, _ in complete])
        parents = [complete[i] for i in population]
        parent_costs = np.array([[f(a) for f in cheap.values()] for _, a in parents])
        density = _density(parent_costs)
        weights = 1.0 / density(parent_costs)
        picks = self._rng.choice(len(parents), size=self._n_proposals, p=weights / weights.sum())
        children: dict[str, tuple[Architecture, FrozenTrial, Operator]] = {}
        for i in picks:
            proposal = random_child(parents[i][1], self._space, self._rng, self._operators)
            if proposal is None:
                continue
            arch, operator = proposal
            if arch.fingerprint not in taken:
                children.setdefault(arch.fingerprint, (arch, parents[i][0], operator))
        if not children:
            return None
        candidates = list(children.values())
        costs = np.array([[f(a) for f in cheap.values()] for a, _, _ in candidates])
        weights = 1.0 / density(costs)
        arch, parent, operator = candidates[
            self._rng.choice(len(candidates), p=weights / weights.sum())
        ]
        storage = study._storage
        storage.set_trial_system_attr(trial._trial_id, _attrs.PARENT_TRIAL, parent.number)
        storage.set_trial_system_attr(trial._trial_id, _attrs.OPERATOR, operator.name)
        storage.set_trial_system_attr(trial._trial_id, _attrs.DISTILL, not operator.exact)
        return arch


def _density(points: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """KDE of the population's cheap objectives in log space; flat when it cannot be fitted."""
    logs = np.log1p(np.maximum(points, 0.0))
    flat = lambda x: np.ones(len(x))  # noqa: E731
    if len(logs) <= logs.shape[1] or np.allclose(logs.std(axis=0), 0):
        return flat
    try:
        kde = gaussian_kde(logs.T)
    except np.linalg.LinAlgError:  # singular covariance (e.g. collinear points)
        return flat

    def density(x: np.ndarray) -> np.ndarray:
        return np.maximum(kde(np.log1p(np.maximum(x, 0.0)).T), 1e-12)

    return density
