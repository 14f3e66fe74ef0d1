from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import optuna
from optuna.samplers import BaseSampler
from optuna.study._multi_objective import _fast_non_domination_rank
from optuna.trial import FrozenTrial
from scipy.stats import gaussian_kde

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.lemonade._operators import OPERATORS, Operator, random_child
from optuna_nas.search import (
    ArchitectureGP,
    ArchitectureSampler,
    CheapObjective,
    TrialArchitectures,
    _attrs,
    cheap_objectives,
    improvement_scores,
    minimised_values,
)

# Proposal rounds before a random architecture, while other workers claim every child.
_PROPOSAL_ROUNDS = 3
ACCEPTANCE = ("improvement", "density")
OPTIMISM = 0.5
"""Children are scored at their predicted error minus this many predictive deviations."""


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
    4. accept one child. ``acceptance="density"`` is the paper's rule: with probability
       proportional to 1 / density of its cheap objectives. ``"improvement"`` (the
       default) ranks the children by how much they would improve the front: a
       Gaussian process (:class:`~optuna_nas.search.ArchitectureGP`) fitted to the
       completed trials predicts each child's expensive objectives, optimistically
       (half a predictive deviation better than the mean), and its cheap ones are exact;
       the child with the largest predicted hypervolume improvement is accepted. The
       population is then the front of the de-noised values (the GP's posterior means
       at the evaluated architectures), so one lucky training run does not stay a
       parent. Proposals remain LEMONADE's: children of the front by network
       operators, parents drawn ∝ 1 / density; the model only chooses among them.

    The accepted child is claimed for the trial (:meth:`TrialArchitectures.claim`):
    if another worker claimed the same architecture at the same moment, the next
    child in acceptance order stands in (the next largest predicted improvement, or
    the next of a draw without replacement ∝ 1 / density), so no two workers
    evaluate one architecture. Only then are the parent's trial
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
    acceptance:
        ``"improvement"`` (predicted hypervolume improvement) or ``"density"`` (the
        paper's 1 / density draw).
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
        acceptance: str = "improvement",
        fallback_sampler: BaseSampler | None = None,
    ) -> None:
        if n_proposals < 1 or n_initial < 1:
            raise ValueError("n_proposals and n_initial must be >= 1.")
        if acceptance not in ACCEPTANCE:
            raise ValueError(f"acceptance must be one of {ACCEPTANCE}, got {acceptance!r}.")
        super().__init__(space, seed=seed, fallback_sampler=fallback_sampler)
        self._cheap = dict(cheap_objectives) if cheap_objectives is not None else None
        self._n_proposals = n_proposals
        self._n_initial = n_initial
        self._operators = tuple(operators) if operators is not None else OPERATORS
        self._acceptance = acceptance
        self._archs = TrialArchitectures(space)

    def sample_architecture(self, study: optuna.Study, trial: FrozenTrial) -> Architecture:
        trials = study._get_trials(deepcopy=False, use_cache=True)
        taken = self._archs.taken(trials)
        complete = self._archs.completed(trials)
        if len(complete) >= self._n_initial:
            cheap = cheap_objectives(study, self._cheap)
            values = minimised_values(study, [t for t, _ in complete])
            model = self._surrogate(study, complete, values, cheap)
            if model is not None:
                values = model.denoised
            ranks = _fast_non_domination_rank(values)
            # A child another worker claimed meanwhile is skipped for the next acceptable
            # one. When every child of the front is taken (a small front, long searches),
            # the next non-domination rank joins the parents; then a random net.
            for depth in range(_PROPOSAL_ROUNDS):
                population = [complete[i] for i in np.flatnonzero(ranks <= depth)]
                children = self._evolve(population, taken, cheap, values, model)
                if (kept := self.first_claimed(study, trial, children, taken)) is not None:
                    arch, parent, operator = kept
                    self._write_lineage(study, trial, parent, operator)
                    return arch
                if depth >= ranks.max():
                    break
        return self.random_new_architecture(study, trial, taken)

    # ------------------------------------------------------------------ the algorithm
    def _evolve(
        self,
        parents: list[tuple[FrozenTrial, Architecture]],
        taken: set[str],
        cheap: Mapping[str, CheapObjective],
        values: np.ndarray,
        model: _Surrogate | None,
    ) -> list[tuple[Architecture, FrozenTrial, Operator]]:
        """New children ``(architecture, parent trial, operator)`` in order of acceptance.

        ``values`` are the (de-noised) objective values of every completed trial, whose
        front the children should improve. The first child is the one LEMONADE accepts;
        the others stand in for it, in order, if another worker has taken it meanwhile.
        """
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
        archs = [a for a, _, _ in candidates]
        if model is not None:
            scores = model.improvement(archs, values)
            order = np.lexsort((self._rng.random(len(candidates)), -scores))
        else:  # a draw without replacement with probability ∝ 1 / density
            costs = np.array([[f(a) for f in cheap.values()] for a in archs])
            weights = 1.0 / density(costs)
            order = self._rng.choice(
                len(candidates), size=len(candidates), replace=False, p=weights / weights.sum()
            )
        return [candidates[i] for i in order]

    def _surrogate(
        self,
        study: optuna.Study,
        complete: list[tuple[FrozenTrial, Architecture]],
        values: np.ndarray,
        cheap: Mapping[str, CheapObjective],
    ) -> _Surrogate | None:
        """The expensive objectives' model, or ``None`` for the paper's density rule."""
        if self._acceptance != "improvement" or len(complete) < 3:
            return None
        return _Surrogate(self._space, study, complete, values, cheap, self._rng)

    @staticmethod
    def _write_lineage(
        study: optuna.Study, trial: FrozenTrial, parent: FrozenTrial, operator: Operator
    ) -> None:
        storage = study._storage
        storage.set_trial_system_attr(trial._trial_id, _attrs.PARENT_TRIAL, parent.number)
        storage.set_trial_system_attr(trial._trial_id, _attrs.OPERATOR, operator.name)
        storage.set_trial_system_attr(trial._trial_id, _attrs.DISTILL, not operator.exact)


class _Surrogate:
    """Exact cheap objectives and GP-predicted expensive ones, in the study's columns.

    Expensive columns are in the GP's normal-score scale, for the evaluated trials
    (``denoised``: posterior means) and for candidates alike, so hypervolume
    improvements compare like with like; cheap columns keep their own values.
    """

    def __init__(
        self,
        space: BaseSpace,
        study: optuna.Study,
        complete: list[tuple[FrozenTrial, Architecture]],
        values: np.ndarray,
        cheap: Mapping[str, CheapObjective],
        rng: np.random.Generator,
    ) -> None:
        names = study.metric_names or [f"values_{m}" for m in range(values.shape[1])]
        archs = [a for _, a in complete]
        self._signs = np.array(
            [1.0 if d == optuna.study.StudyDirection.MINIMIZE else -1.0 for d in study.directions]
        )
        self._cheap = {m: cheap[n] for m, n in enumerate(names) if n in cheap}
        self._models = {
            m: ArchitectureGP(space, archs, values[:, m], rng=rng)
            for m in range(values.shape[1])
            if m not in self._cheap
        }
        self.denoised = values.copy()
        for m, model in self._models.items():
            self.denoised[:, m] = model.predict(archs)[0]

    def improvement(self, archs: Sequence[Architecture], values: np.ndarray) -> np.ndarray:
        """Predicted hypervolume improvement of each architecture over ``values``' front."""
        points = np.zeros((len(archs), values.shape[1]))
        predicted = np.zeros(values.shape[1], dtype=bool)
        for m, function in self._cheap.items():
            points[:, m] = self._signs[m] * np.array([function(a) for a in archs])
        for m, model in self._models.items():
            mean, std = model.predict(archs)
            points[:, m] = mean - OPTIMISM * std
            predicted[m] = True
        return improvement_scores(values, points, predicted)


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
