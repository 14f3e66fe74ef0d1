from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import optuna
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial
from scipy.stats import gaussian_kde

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.lemonade._operators import OPERATORS, Operator, random_child
from optuna_nas.search import (
    ArchitectureSampler,
    CheapObjective,
    TrialArchitectures,
    _attrs,
    cheap_objectives,
    pareto_indices,
)

# Proposal rounds before a random architecture, while other workers claim every child.
_PROPOSAL_ROUNDS = 3


class LemonadeSampler(ArchitectureSampler):
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

    The accepted child is claimed for the trial (:meth:`TrialArchitectures.claim`):
    if another worker claimed the same architecture at the same moment, the next
    child in acceptance order stands in (a draw without replacement ∝ 1 / density),
    so no two workers evaluate one architecture. Only then are the parent's trial
    number, the operator and whether to distil (approximate morphisms) written to
    the child trial's system attrs; ``NASObjective`` then warm-starts the child from
    the parent's weights.

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
        super().__init__(space, seed=seed, fallback_sampler=fallback_sampler)
        self._cheap = dict(cheap_objectives) if cheap_objectives is not None else None
        self._n_proposals = n_proposals
        self._n_initial = n_initial
        self._operators = tuple(operators) if operators is not None else OPERATORS
        self._archs = TrialArchitectures(space)

    def sample_architecture(self, study: optuna.Study, trial: FrozenTrial) -> Architecture:
        trials = study._get_trials(deepcopy=False, use_cache=True)
        taken = self._archs.taken(trials)
        complete = self._archs.completed(trials)
        if len(complete) >= self._n_initial:
            # A child another worker claimed meanwhile is skipped for the next acceptable
            # one; if all are gone, the population proposes again, then a random net.
            for _ in range(_PROPOSAL_ROUNDS):
                children = self._evolve(study, complete, taken)
                if (kept := self.first_claimed(study, trial, children, taken)) is not None:
                    arch, parent, operator = kept
                    self._write_lineage(study, trial, parent, operator)
                    return arch
                if not children:
                    break
        return self.random_new_architecture(study, trial, taken)

    # ------------------------------------------------------------------ the algorithm
    def _evolve(
        self,
        study: optuna.Study,
        complete: list[tuple[FrozenTrial, Architecture]],
        taken: set[str],
    ) -> list[tuple[Architecture, FrozenTrial, Operator]]:
        """New children ``(architecture, parent trial, operator)`` in order of acceptance.

        The order is a draw without replacement with probability ∝ 1 / density: the
        first is the child LEMONADE accepts, the others stand in for it if it is taken.
        """
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
        candidates = list(children.values())
        if not candidates:
            return []
        costs = np.array([[f(a) for f in cheap.values()] for a, _, _ in candidates])
        weights = 1.0 / density(costs)
        order = self._rng.choice(
            len(candidates), size=len(candidates), replace=False, p=weights / weights.sum()
        )
        return [candidates[i] for i in order]

    @staticmethod
    def _write_lineage(
        study: optuna.Study, trial: FrozenTrial, parent: FrozenTrial, operator: Operator
    ) -> None:
        storage = study._storage
        storage.set_trial_system_attr(trial._trial_id, _attrs.PARENT_TRIAL, parent.number)
        storage.set_trial_system_attr(trial._trial_id, _attrs.OPERATOR, operator.name)
        storage.set_trial_system_attr(trial._trial_id, _attrs.DISTILL, not operator.exact)


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
