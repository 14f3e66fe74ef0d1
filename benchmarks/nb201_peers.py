"""Peers of the NAS-Bench-201 comparison beyond Optuna's default samplers.

- ``tpe-mv``: ``TPESampler(multivariate=True, group=True)``, the TPE that models the six
  edges jointly;
- ``tpe-mv-distinct``: the same sampler under :func:`run_distinct`, which never evaluates an
  architecture twice and serves a repeat the cached value; ``tpe-mv-reask`` tells a repeat
  ``FAIL`` and asks again instead (the alternative, kept to show why it was not chosen);
- ``gp``: Optuna's ``GPSampler`` (log expected hypervolume improvement for two objectives);
- ``pymoo-nsga2``, ``pymoo-smsemoa``: pymoo's NSGA-II and SMS-EMOA on the six op indices
  coded as integers (:func:`run_pymoo`; imports pymoo lazily).

:mod:`benchmarks.run_nb201` merges :data:`OPTUNA_PEERS` into its samplers and calls the
runners here for the others.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import optuna

from benchmarks.nb201_table import NB201Table, create_study, suggest
from optuna_nas import Architecture

if TYPE_CHECKING:
    from pymoo.algorithms.base.genetic import GeneticAlgorithm

SamplerFactory = Callable[[NB201Table, int], optuna.samplers.BaseSampler]


def _tpe_multivariate(table: NB201Table, seed: int) -> optuna.samplers.TPESampler:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # ``group``
        return optuna.samplers.TPESampler(multivariate=True, group=True, seed=seed)


#: Optuna samplers by name, ``factory(table, seed)`` as in ``run_nb201.SAMPLERS``.
OPTUNA_PEERS: dict[str, SamplerFactory] = {
    "tpe-mv": _tpe_multivariate,
    # The defaults: 10 random trials, then LogEHVI; the error is noisy, so
    # deterministic_objective stays False.
    "gp": lambda table, seed: optuna.samplers.GPSampler(seed=seed),
}
#: Samplers run by :func:`run_distinct`: name -> (key of the wrapped sampler, ``cached``).
DISTINCT = {"tpe-mv-distinct": ("tpe-mv", True), "tpe-mv-reask": ("tpe-mv", False)}
#: pymoo algorithms run by :func:`run_pymoo`.
PYMOO_PEERS = ("pymoo-nsga2", "pymoo-smsemoa")
#: Population of both pymoo algorithms: 20, as ``nsga2-pop20``, so that a budget of 200
#: evaluations is 10 generations rather than pymoo's default of 100 (two generations).
PYMOO_POP_SIZE = 20


def run_distinct(
    table: NB201Table,
    sampler: optuna.samplers.BaseSampler,
    budget: int,
    *,
    cached: bool = True,
    max_trials: int | None = None,
) -> optuna.Study:
    """Run ``sampler`` until ``budget`` distinct architectures were evaluated.

    A trial whose architecture was already evaluated (by
    :attr:`~optuna_nas.Architecture.fingerprint`, so an isomorphic cell is the same one) is
    not evaluated again: it gets user attr ``"repeat"`` and, with ``cached``, the values of
    the first evaluation, as an objective with a cache would return; without, it is told
    ``FAIL``, which samplers skip, and the sampler is asked again.

    The cached value is the default because re-asking can stall: a failed trial leaves the
    sampler's history as it was, so the next proposal comes from the same distribution, and
    a TPE whose mass sits on evaluated cells proposes them again and again. A served repeat
    is one more observation, which moves the model on (see benchmarks/README.md).

    Parameters
    ----------
    table:
        The table to search; ``table.calls`` gets one entry per distinct architecture.
    sampler:
        Any Optuna sampler.
    budget:
        Number of distinct evaluations.
    cached:
        Whether a repeat is told the cached values (else ``FAIL``).
    max_trials:
        Trials (evaluations and repeats) after which the search stops even if fewer than
        ``budget`` architectures were evaluated; ``20 * budget`` if omitted.

    Returns
    -------
    optuna.Study
        The study, whose trial count is the number of asks.
    """
    study = create_study(table, sampler)
    values: dict[Architecture, tuple[float, float]] = {}
    for _ in range(max_trials or 20 * budget):
        if len(values) == budget:
            break
        trial = study.ask()
        arch = suggest(table, trial)
        if arch not in values:
            values[arch] = table.evaluate(arch)
            study.tell(trial, values[arch])
            continue
        trial.set_user_attr("repeat", True)
        if cached:
            study.tell(trial, values[arch])
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return study


def pymoo_available() -> bool:
    """Whether the pymoo peers can run in this interpreter."""
    return importlib.util.find_spec("pymoo") is not None


def _pymoo_algorithm(name: str) -> GeneticAlgorithm:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.moo.sms import SMSEMOA
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling

    # pymoo's recipe for integer variables ("Discrete Variable Problem" in its docs):
    # real-valued SBX and polynomial mutation, each child rounded to the nearest integer.
    integer = {
        "sampling": IntegerRandomSampling(),
        "crossover": SBX(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
        "mutation": PM(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
        "eliminate_duplicates": True,
    }
    algorithm = {"pymoo-nsga2": NSGA2, "pymoo-smsemoa": SMSEMOA}[name]
    return algorithm(pop_size=PYMOO_POP_SIZE, **integer)


def run_pymoo(name: str, table: NB201Table, seed: int, budget: int) -> list[str]:
    """Run a pymoo algorithm with the ask-and-tell interface until ``budget`` error calls.

    A solution is the six op indices of the cell in NB201 string order, integers in
    ``[0, 4]`` (the order of ``table.space.ops``). The integer coding imposes an order on
    the ops that a categorical sampler does not assume: crossover between ``none`` (0) and
    ``avg_pool_3x3`` (4) can give any op in between.

    Parameters
    ----------
    name:
        One of :data:`PYMOO_PEERS`.
    table:
        The table to search.
    seed:
        Seed of the algorithm.
    budget:
        Number of error calls; the generation that reaches it is evaluated only up to it.

    Returns
    -------
    list of str
        ``table.calls``; shorter than ``budget`` only if the algorithm produced no new
        offspring.
    """
    if not pymoo_available():
        raise ImportError(f"{name} needs pymoo: pip install 'pymoo>=0.6.1' (or the bench extra).")
    from pymoo.core.problem import Problem
    from pymoo.core.termination import NoTermination
    from pymoo.problems.static import StaticProblem

    n_edges = len(table.space.to_tokens(table.space.sample(0)))
    problem = Problem(n_var=n_edges, n_obj=2, xl=0, xu=len(table.space.ops) - 1, vtype=int)
    algorithm = _pymoo_algorithm(name)
    algorithm.setup(problem, termination=NoTermination(), seed=seed, verbose=False)
    while len(table.calls) < budget:
        pop = algorithm.ask()
        if len(pop) == 0:
            break
        X = np.rint(pop.get("X")).astype(int)
        F = []
        for x in X:
            if len(table.calls) == budget:
                return list(table.calls)  # the last generation, cut at the budget
            F.append(table.evaluate(table.space.from_tokens(x.tolist())))
        algorithm.evaluator.eval(StaticProblem(problem, F=np.array(F)), pop)
        algorithm.tell(infills=pop)
    return list(table.calls)
