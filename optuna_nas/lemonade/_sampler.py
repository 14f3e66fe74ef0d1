from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import StudyDirection
from optuna.study._multi_objective import _is_pareto_front
from optuna.trial import FrozenTrial, TrialState
from scipy.stats import gaussian_kde

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.lemonade._operators import OPERATORS, Operator, random_child
from optuna_nas.objectives import get_objective
from optuna_nas.search import _attrs

CheapObjective = Callable[[Architecture], float]


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
        # Decoded architectures by trial id: derived from storage, so safe to cache.
        self._archs: dict[int, Architecture | None] = {}

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
        taken = {a.fingerprint for a in (self._arch(t) for t in trials) if a is not None}
        complete = [(t, a) for t in trials if t.state == TrialState.COMPLETE
                    and (a := self._arch(t)) is not None]  # fmt: skip
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
    def _arch(self, trial: FrozenTrial) -> Architecture | None:
        if trial._trial_id in self._archs:
            return self._archs[trial._trial_id]
        arch = None
        if all(name in trial.params for name in self._distributions):
            try:
                arch = self._space.from_params(trial.params)
                arch.fingerprint  # noqa: B018 - computed once, here
            except ValueError:
                arch = None
        if trial.state.is_finished():  # a running trial's params may still grow
            self._archs[trial._trial_id] = arch
        return arch

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
        cheap = self._cheap_functions(study)
        population = _pareto(study, [t for t, _ in complete])
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

    def _cheap_functions(self, study: optuna.Study) -> dict[str, CheapObjective]:
        if self._cheap is not None:
            return self._cheap
        shape = tuple(study.user_attrs.get(_attrs.STUDY_INPUT_SHAPE, (3, 32, 32)))
        classes = int(study.user_attrs.get(_attrs.STUDY_NUM_CLASSES, 10))
        functions = {}
        for name in study.metric_names or []:
            try:
                spec = get_objective(name)
            except ValueError:
                continue
            if spec.cheap:
                functions[name] = spec.bind(shape, classes)
        # Without a cheap metric the KDE still needs a size axis: parameters.
        return functions or {"params": get_objective("params").bind(shape, classes)}


def _pareto(study: optuna.Study, trials: list[FrozenTrial]) -> list[int]:
    """Indices of the non-dominated trials (all directions turned into minimisation)."""
    signs = np.array([1.0 if d == StudyDirection.MINIMIZE else -1.0 for d in study.directions])
    values = np.array([t.values for t in trials], dtype=float) * signs
    return list(np.flatnonzero(_is_pareto_front(values, assume_unique_lexsorted=False)))


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
