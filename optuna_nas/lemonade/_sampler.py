from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import optuna
from optuna.samplers import BaseSampler
from optuna.study._multi_objective import _is_pareto_front
from optuna.trial import FrozenTrial
from scipy.stats import gaussian_kde

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.lemonade._acceptance import (
    Acceptance,
    Child,
    DensityAcceptance,
    Evaluated,
    ImprovementAcceptance,
    Ranking,
)
from optuna_nas.lemonade._operators import OPERATORS, Operator, random_child
from optuna_nas.search import (
    ArchitectureSampler,
    CheapObjective,
    cheap_objectives,
    exact_columns,
    minimised_values,
)
from optuna_nas.storage import keys, write_lineage

# Proposal rounds before a random architecture, while other workers claim every child.
_PROPOSAL_ROUNDS = 3
OPTIMISM = 0.5
"""Children are scored at their predicted error minus this many predictive deviations."""
_ACCEPTANCE = {"improvement": lambda: ImprovementAcceptance(OPTIMISM), "density": DensityAcceptance}
ACCEPTANCE = tuple(_ACCEPTANCE)
"""Names of the built-in acceptance strategies (the first is the default)."""


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
    4. accept one child, in the order the ``acceptance`` strategy gives
       (:class:`~optuna_nas.lemonade.Acceptance`). ``"density"``
       (:class:`~optuna_nas.lemonade.DensityAcceptance`) is the paper's rule: with
       probability proportional to 1 / density of its cheap objectives. The default,
       ``"improvement"`` (:class:`~optuna_nas.lemonade.ImprovementAcceptance`), ranks
       the children by how much they would improve the front: a Gaussian process
       (:class:`~optuna_nas.surrogate.ArchitectureGP`) fitted to the
       completed trials predicts each child's expensive objectives, optimistically
       (half a predictive deviation better than the mean), and its cheap ones are exact;
       the child with the largest predicted hypervolume improvement is accepted. The
       population is then the front of the de-noised values (the GP's posterior means
       at the evaluated architectures), so one lucky training run does not stay a
       parent. Proposals remain LEMONADE's: children of the front by network
       operators, parents drawn ∝ 1 / density; the model only chooses among them.
       Warm-started children have trained longer than fresh networks (their
       ancestors' epochs and their own: user attr ``lineage_epochs``), so where
       budgets differ the GP sees them, and parents and children are compared at
       the fewest epochs any trial trained (a fresh network's budget); otherwise the
       smallest lineage, trained longest, would look like the best architecture
       and push the fresh larger networks off the front of parents; and the parents
       are the trials on either front, the de-noised one or that of the values the
       trials reached, since a model of a few points extrapolated to another budget
       can drop the largest networks from its front. There, too, all children of one generation come from
       one parent drawn ∝ 1 / density, and the model picks among those siblings (who
       share the parent's training): compared across lineages, the longest one's
       children always win and the front collapses onto the smallest networks. It
       picks among the siblings in the parent's part of the front only (cheap costs
       nearer to it than to any other parent; beyond it, for a parent at an end of the
       front): otherwise the largest network's cheaper copies, which fill the middle
       of the front at once, win every time it is drawn and the front never grows
       past the largest network of the random phase.
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
        Children proposed (and scored) per accepted child. Default 256 with an
        :class:`~optuna_nas.lemonade.ImprovementAcceptance` (the default), 64 with
        any other acceptance.
    max_operators:
        Longest chain of operators from a parent to one child; default 3 with an
        :class:`~optuna_nas.lemonade.ImprovementAcceptance`, otherwise 1 (the paper's
        children): a blind density draw gains nothing from more or farther children.
    n_initial:
        Random architectures evaluated before evolution starts.
    seed:
        Seed of the sampler's random choices.
    operators:
        The operators to use (default: all of :data:`~optuna_nas.lemonade.OPERATORS`).
    acceptance:
        Which child to accept: any object with the
        :class:`~optuna_nas.lemonade.Acceptance` protocol (``fit(evaluated, rng)``
        returning a :class:`~optuna_nas.lemonade.Ranking`, which names the parents'
        values and orders the children), or a built-in one by name: ``"improvement"``
        (predicted hypervolume improvement; also ``None``, the default) or
        ``"density"`` (the paper's 1 / density draw).
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
        acceptance: Acceptance | str | None = None,
        fallback_sampler: BaseSampler | None = None,
    ) -> None:
        acceptance = self.strategy(
            "acceptance",
            acceptance,
            _ACCEPTANCE,
            "fit(evaluated, rng)",
            "optuna_nas.lemonade.Acceptance",
        )
        # The model pays for many, far-reaching children; a blind draw does not.
        model = isinstance(acceptance, ImprovementAcceptance)
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
        self._acceptance: Acceptance = acceptance

    def sample_architecture(self, study: optuna.Study, trial: FrozenTrial) -> Architecture:
        taken, complete = self.history(study)
        if len(complete) >= self._n_initial:
            evaluated = self._evaluated(study, complete)
            ranking = self._acceptance.fit(evaluated, self._rng)
            ranks = _leading_ranks(ranking.values, _PROPOSAL_ROUNDS)
            if evaluated.budgets is not None:
                # The model compares lineages at one budget, which few points extrapolate
                # poorly: what the trials reached themselves stays a parent too, so the
                # draw ∝ 1 / density keeps every size of the front growing.
                ranks = np.minimum(ranks, _leading_ranks(evaluated.values, _PROPOSAL_ROUNDS))
            # A child another worker claimed meanwhile is skipped for the next acceptable
            # one. When every child of the front is taken (a small front, long searches),
            # the next non-domination rank joins the parents; then a random net.
            for depth in range(_PROPOSAL_ROUNDS):
                parents = np.flatnonzero(ranks <= depth)
                children = self._evolve(evaluated, parents, taken, ranking,
                                        one_parent=evaluated.budgets is not None)  # fmt: skip
                if (kept := self.first_claimed(study, trial, children, taken)) is not None:
                    # A chain of network morphisms is one (inherit_weights handles any).
                    operator = "+".join(op.name for op in kept.operators)
                    parent = complete[kept.parent][0].number
                    write_lineage(study, trial, parent, operator, distill=not kept.exact)
                    return kept.arch
                if depth >= ranks.max():
                    break
        return self.random_new_architecture(study, trial, taken)

    # ------------------------------------------------------------------ the algorithm
    def _evaluated(
        self, study: optuna.Study, complete: list[tuple[FrozenTrial, Architecture]]
    ) -> Evaluated:
        """What storage holds about the completed trials, as plain data for the acceptance."""
        cheap = cheap_objectives(study, self._cheap)
        trials = [t for t, _ in complete]
        return Evaluated(
            space=self._space,
            archs=[a for _, a in complete],
            values=minimised_values(study, trials),
            costs=tuple(cheap.values()),
            exact=exact_columns(study, cheap),
            epochs=np.array([t.user_attrs.get(keys.EPOCHS, 0) for t in trials], dtype=float),
            lineage=np.array([keys.lineage_epochs(t) for t in trials], dtype=float),
            inherits=bool(study.user_attrs.get(keys.STUDY_INHERITS, False)),
        )

    def _evolve(
        self,
        evaluated: Evaluated,
        parents: np.ndarray,
        taken: set[str],
        ranking: Ranking,
        one_parent: bool = False,
    ) -> list[Child]:
        """New children of the rows ``parents`` of ``evaluated``, in order of acceptance.

        The first child is the one LEMONADE accepts; the others stand in for it, in
        order, if another worker has taken it meanwhile. ``one_parent``: every child
        comes from one parent drawn ∝ 1 / density (where lineages trained for
        different budgets, so the draw, not the longest lineage's head start, decides
        which part of the front grows); the others follow only if it has no new child.
        """
        parent_costs = np.array([[f(evaluated.archs[i]) for f in evaluated.costs] for i in parents])
        density = _density(parent_costs)
        weights = 1.0 / density(parent_costs)
        weights = weights / weights.sum()
        draw = lambda: self._rng.choice(len(parents), size=self._n_proposals, p=weights)  # noqa: E731
        if one_parent:
            picks = np.full(self._n_proposals, self._rng.choice(len(parents), p=weights))
        else:
            picks = draw()
        candidates = self._children(evaluated, parents, picks, taken)
        if one_parent:
            # The draw chose which part of the front grows; a child that leaves it (the
            # largest parent's pruned copy) would grow another part instead.
            candidates = _in_part(candidates, evaluated, parent_costs, picks[0]) or candidates
        if not candidates and one_parent:  # the drawn parent has no new child: everyone's
            candidates = self._children(evaluated, parents, draw(), taken)
        if not candidates:
            return []
        return [candidates[i] for i in ranking.order(candidates, density, self._rng)]

    def _children(
        self, evaluated: Evaluated, parents: np.ndarray, picks: np.ndarray, taken: set[str]
    ) -> list[Child]:
        """One chain of operators from each picked parent; new architectures only, once each."""
        children: dict[str, Child] = {}
        for i in picks:
            arch, applied = evaluated.archs[parents[i]], []
            for _ in range(min(self._rng.geometric(0.5), self._max_operators)):
                if (
                    proposal := random_child(arch, self._space, self._rng, self._operators)
                ) is None:
                    break
                arch, operator = proposal
                applied.append(operator)
            # A chain that undoes itself gives the parent back, which is taken.
            if applied and arch.fingerprint not in taken:
                children.setdefault(arch.fingerprint, Child(arch, int(parents[i]), tuple(applied)))
        return list(children.values())


def _in_part(
    children: list[Child], evaluated: Evaluated, parent_costs: np.ndarray, drawn: int
) -> list[Child]:
    """The children in parent ``drawn``'s part of the front, by their cheap costs.

    A parent's part is the region its draw ∝ 1 / density stands for: the costs nearer
    to it than to any other parent (in the log space of the density), and for a parent
    at an end of the front in some cost, only beyond that end, where the front is
    still empty (where the space has nothing beyond, its nearest children). So the
    largest network's children grow it; without that its cheaper copies, which fill
    the middle of the front at once, win every time it is drawn.
    """
    if not children:
        return []
    logs = np.log1p(np.maximum(parent_costs, 0.0))
    costs = np.log1p(np.maximum([[f(c.arch) for f in evaluated.costs] for c in children], 0.0))
    distance = np.linalg.norm(costs[:, None] - logs[None], axis=2)
    nearest = distance[:, drawn] <= distance.min(axis=1)
    beyond = nearest.copy()
    own, spread = logs[drawn], np.ptp(logs, axis=0) > 0
    for j in np.flatnonzero(spread & (own >= logs.max(axis=0))):
        beyond &= costs[:, j] > own[j]
    for j in np.flatnonzero(spread & (own <= logs.min(axis=0))):
        beyond &= costs[:, j] < own[j]
    # Nothing beyond an end (the space's smallest network): its nearest children.
    inside = beyond if beyond.any() else nearest
    return [c for c, keep in zip(children, inside, strict=True) if keep]


def _leading_ranks(values: np.ndarray, fronts: int) -> np.ndarray:
    """Non-domination ranks of the first ``fronts`` fronts; ``fronts`` for every later row.

    Optuna's ranking (unique rows, lexsorted, peeled front by front) stopped early: only
    the first fronts can be parents, and peeling all of a study of thousands took longer
    than the rest of a call.
    """
    unique, inverse = np.unique(values, axis=0, return_inverse=True)
    ranks = np.full(len(unique), fronts)
    remaining = np.arange(len(unique))
    for rank in range(fronts):
        if not len(remaining):
            break
        on_front = _is_pareto_front(unique[remaining], assume_unique_lexsorted=True)
        ranks[remaining[on_front]] = rank
        remaining = remaining[~on_front]
    return ranks[inverse.reshape(-1)]


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
