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
    ArchitectureSampler,
    CheapObjective,
    ObjectiveModel,
    TrialArchitectures,
    _attrs,
    cheap_objectives,
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
       approximate morphisms), dropping architectures already evaluated or running.
       A child is a chain of 1 to ``max_operators`` operators (one with probability
       1/2, two with 1/4, ...): descendants reach cells the front's direct children
       miss, and the chain is still one warm start from the parent. With the model's
       acceptance (below), 3 operators and 256 children raised the NAS-Bench-201 HV
       ratio at 100 evaluations from 0.961 (1 and 64) to 0.974 (error vs model_size,
       ``benchmarks/results/nb201_cifar10.md``);
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
       Warm-started children have trained longer than fresh networks (their
       ancestors' epochs and their own: user attr ``lineage_epochs``), so where
       budgets differ the GP sees them and predicts a child at its parent's budget
       plus its own (its own only, for an approximate morphism); otherwise the smallest lineage, trained longest, would look like
       the best architecture. There, too, all children of one generation come from
       one parent drawn ∝ 1 / density, and the model picks among those siblings (who
       share the parent's training): compared across lineages, the longest one's
       children always win and the front collapses onto the smallest networks.
       Where all trials trained alike nothing changes. And where the objective
       warm-starts children (study user attr ``nas:inherits``, set by
       ``NASObjective``), a network morphism's child is predicted no worse than its
       parent: it starts with its parent's function and trains on. That is the
       paper's premise, and what lets a front grow from small networks to large
       ones in a short search, instead of shrinking towards the small ones whose
       fresh-looking predictions the GP cannot tell from their parents'.

    The accepted child is claimed for the trial (:meth:`TrialArchitectures.claim`):
    if another worker claimed the same architecture at the same moment, the next
    child in acceptance order stands in (the next largest predicted improvement, or
    the next of a draw without replacement ∝ 1 / density), so no two workers
    evaluate one architecture. Only then are the parent's trial
    number, the operators (``"activate_edge+cheapen"`` for a chain) and whether to
    distil (any approximate morphism in the chain) written to
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
        Children proposed (and scored) per accepted child. Default 256 with
        ``acceptance="improvement"``, 64 with ``"density"``.
    max_operators:
        Longest chain of operators from a parent to one child; default 3 with
        ``acceptance="improvement"``, 1 (the paper's children) with ``"density"``: a
        blind density draw gains nothing from more or farther children.
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
        n_proposals: int | None = None,
        max_operators: int | None = None,
        n_initial: int = 20,
        seed: int | None = None,
        operators: Sequence[Operator] | None = None,
        acceptance: str = "improvement",
        fallback_sampler: BaseSampler | None = None,
    ) -> None:
        if acceptance not in ACCEPTANCE:
            raise ValueError(f"acceptance must be one of {ACCEPTANCE}, got {acceptance!r}.")
        # The model pays for many, far-reaching children; a blind draw does not.
        model = acceptance == "improvement"
        n_proposals = n_proposals if n_proposals is not None else (256 if model else 64)
        max_operators = max_operators if max_operators is not None else (3 if model else 1)
        if min(n_proposals, max_operators, n_initial) < 1:
            raise ValueError("n_proposals, max_operators and n_initial must be >= 1.")
        super().__init__(space, seed=seed, fallback_sampler=fallback_sampler)
        self._cheap = dict(cheap_objectives) if cheap_objectives is not None else None
        self._n_proposals = n_proposals
        self._max_operators = max_operators
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
            budgets = _budgets(complete)
            model = self._surrogate(study, complete, values, cheap, budgets)
            if model is not None:
                values = model.denoised
            ranks = _fast_non_domination_rank(values)
            # A child another worker claimed meanwhile is skipped for the next acceptable
            # one. When every child of the front is taken (a small front, long searches),
            # the next non-domination rank joins the parents; then a random net.
            for depth in range(_PROPOSAL_ROUNDS):
                population = [complete[i] for i in np.flatnonzero(ranks <= depth)]
                children = self._evolve(population, taken, cheap, model, budgets is not None,
                                        study.user_attrs.get(_attrs.STUDY_INHERITS, False))  # fmt: skip
                if (kept := self.first_claimed(study, trial, children, taken)) is not None:
                    arch, parent, operators = kept
                    self._write_lineage(study, trial, parent, operators)
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
        model: ObjectiveModel | None,
        one_parent: bool = False,
        inherits: bool = False,
    ) -> list[tuple[Architecture, FrozenTrial, tuple[Operator, ...]]]:
        """New children ``(architecture, parent trial, operators)`` in order of acceptance.

        ``model`` (``None`` for the density rule) scores how much each child would
        improve the de-noised front. The first child is the one LEMONADE accepts; the
        others stand in for it, in order, if another worker has taken it meanwhile.
        ``one_parent``: every child comes from one parent drawn ∝ 1 / density (where
        lineages trained for different budgets, so the draw, not the longest
        lineage's head start, decides which part of the front grows); the others
        follow only if it has no new child. ``inherits``: children start from their
        parent's weights, so a morphism's child is predicted no worse than its parent.
        """
        parent_costs = np.array([[f(a) for f in cheap.values()] for _, a in parents])
        density = _density(parent_costs)
        weights = 1.0 / density(parent_costs)
        weights = weights / weights.sum()
        draw = lambda: self._rng.choice(len(parents), size=self._n_proposals, p=weights)  # noqa: E731
        if one_parent:
            picks = np.full(self._n_proposals, self._rng.choice(len(parents), p=weights))
        else:
            picks = draw()
        candidates = self._children(parents, picks, taken)
        if not candidates and one_parent:  # the drawn parent has no new child: everyone's
            candidates = self._children(parents, draw(), taken)
        if not candidates:
            return []
        archs = [a for a, _, _ in candidates]
        if model is not None:
            # A morphism's child trains on top of its parent's training (NASObjective
            # counts lineage_epochs the same way); an approximate one starts over.
            budgets = [
                p.user_attrs.get("epochs", 0)
                + (_attrs.lineage_epochs(p) if all(op.exact for op in ops) else 0)
                for _, p, ops in candidates
            ]
            # LEMONADE's premise: a morphism's child starts as its parent and trains on.
            at_most = np.array([
                model.denoised_of(p) if inherits and all(op.exact for op in ops)
                else np.full(model.denoised.shape[1], np.nan)
                for _, p, ops in candidates
            ])  # fmt: skip
            scores = model.improvement(archs, OPTIMISM, budgets=budgets, at_most=at_most)
            order = np.lexsort((self._rng.random(len(candidates)), -scores))
        else:  # a draw without replacement with probability ∝ 1 / density
            costs = np.array([[f(a) for f in cheap.values()] for a in archs])
            weights = 1.0 / density(costs)
            order = self._rng.choice(
                len(candidates), size=len(candidates), replace=False, p=weights / weights.sum()
            )
        return [candidates[i] for i in order]

    def _children(
        self,
        parents: list[tuple[FrozenTrial, Architecture]],
        picks: np.ndarray,
        taken: set[str],
    ) -> list[tuple[Architecture, FrozenTrial, tuple[Operator, ...]]]:
        """One chain of operators from each picked parent; new architectures only, once each."""
        children: dict[str, tuple[Architecture, FrozenTrial, tuple[Operator, ...]]] = {}
        for i in picks:
            arch, applied = parents[i][1], []
            for _ in range(min(self._rng.geometric(0.5), self._max_operators)):
                if (
                    proposal := random_child(arch, self._space, self._rng, self._operators)
                ) is None:
                    break
                arch, operator = proposal
                applied.append(operator)
            # A chain that undoes itself gives the parent back, which is taken.
            if applied and arch.fingerprint not in taken:
                children.setdefault(arch.fingerprint, (arch, parents[i][0], tuple(applied)))
        return list(children.values())

    def _surrogate(
        self,
        study: optuna.Study,
        complete: list[tuple[FrozenTrial, Architecture]],
        values: np.ndarray,
        cheap: Mapping[str, CheapObjective],
        budgets: np.ndarray | None,
    ) -> ObjectiveModel | None:
        """The expensive objectives' model, or ``None`` for the paper's density rule."""
        if self._acceptance != "improvement" or len(complete) < 3:
            return None
        return ObjectiveModel(self._space, study, complete, values, cheap, self._rng,
                              budgets=budgets)  # fmt: skip

    @staticmethod
    def _write_lineage(
        study: optuna.Study,
        trial: FrozenTrial,
        parent: FrozenTrial,
        operators: tuple[Operator, ...],
    ) -> None:
        storage = study._storage
        name = "+".join(op.name for op in operators)
        storage.set_trial_system_attr(trial._trial_id, _attrs.PARENT_TRIAL, parent.number)
        storage.set_trial_system_attr(trial._trial_id, _attrs.OPERATOR, name)
        # A chain of network morphisms is one (inherit_weights handles any combination).
        exact = all(op.exact for op in operators)
        storage.set_trial_system_attr(trial._trial_id, _attrs.DISTILL, not exact)


def _budgets(complete: list[tuple[FrozenTrial, Architecture]]) -> np.ndarray | None:
    """Each trial's training budget (``lineage_epochs``), or ``None`` where all are equal."""
    budgets = np.array([_attrs.lineage_epochs(t) for t, _ in complete], dtype=float)
    return budgets if len(budgets) and np.ptp(budgets) > 0 else None


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
