"""A Gaussian-process surrogate of one objective over the architectures of a space.

Samplers that must rank many unevaluated candidates by an expensive objective
(validation error, say) fit this to the completed trials. Each architecture's
features come from the space's token encoding of its canonical form, so equal
networks have equal features: the one-hot tokens (which decision took which
value) and, scaled by ``c``, the composition (how often each token occurs: three
3x3 convolutions and a skip, wherever they sit). On features ``x, y`` the kernel
mixes two similarities,

``k = w * <x, y> / n + (1 - w) * exp(-|x - y|^2 / (2 l))``

(``n``: the mean ``<x, x>`` of the fitted points). The first, linear, is an
additive model (each decision and each op count adds its own effect); the second
is local (architectures a few decisions apart are alike). Op counts matter on
their own in cell spaces (how many 3x3 convolutions a cell has sets much of its
accuracy and all of its size); the composition lets a few points show that.
``c``, ``w``, ``l`` and the noise are chosen by the marginal likelihood from a
small grid.

Where the evaluated networks trained for different budgets (LEMONADE's children
inherit their parents' training, so a child of a long lineage has seen many more
epochs than a fresh network), each point also carries its budget, ``b`` x the log2
of its epochs over the fewest any point had, with ``b`` chosen like ``c``. Without
it a fresh large network (few epochs) looks worse than a small one with a long
lineage, and the model would learn "small is better" where "more epochs is better"
is the truth; with it, a candidate is predicted at the budget it will have.

Targets are rank-transformed to standard normal quantiles first: an error of 0.9
from a network without a path and one of 0.085 from a good one then differ by a
few units, not by what dominates the fit, and any objective (signed, skewed)
works unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.stats import norm, rankdata

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.surrogate._features import token_counts, token_features

_COMPOSITION = (0.0, 1.0, 2.0)
_WEIGHTS = (0.2, 0.5, 0.8)
_LENGTHS = (0.5, 1.0, 2.0, 4.0, 8.0)
_NOISES = (0.01, 0.03, 0.1, 0.3)
_BUDGET = (0.0, 1.0, 2.0)
"""Scales of the budget feature tried when the fitted points' budgets differ."""
_GRID_POINTS = 120
"""Hyperparameters are chosen on at most this many points (a Cholesky per grid point)."""


def normal_scores(values: np.ndarray) -> np.ndarray:
    """Ranks of ``values`` as standard normal quantiles (ties share their mean rank)."""
    return norm.ppf((rankdata(values) - 0.5) / len(values))


def _kernel(
    inner: np.ndarray, sq_a: np.ndarray, sq_b: np.ndarray, norm: float, weight: float, scale: float
) -> np.ndarray:
    """The kernel from inner products and squared norms of the two feature sets.

    ``weight * inner / norm + (1 - weight) * exp(-max(|a|^2 + |b|^2 - 2 <a, b>, 0) / (2 l))``,
    computed in place (the same operations in the same order, so the same bits): on
    thousands of evaluated architectures the temporaries cost more than the arithmetic.
    """
    out = sq_a[:, None] + sq_b[None, :]
    out -= 2.0 * inner
    np.maximum(out, 0.0, out=out)
    np.negative(out, out=out)
    out /= 2.0 * scale
    np.exp(out, out=out)
    out *= 1.0 - weight
    linear = weight * inner
    linear /= norm
    out += linear
    return out


def _features(
    onehot: np.ndarray, counts: np.ndarray, c: float, budget: np.ndarray, b: float
) -> np.ndarray:
    return np.hstack([onehot, c * counts, b * budget[:, None]])


class ArchitectureGP:
    """GP regression of one (minimised) objective on architectures, in normal scores.

    Parameters
    ----------
    space:
        The space the architectures belong to.
    archs:
        Evaluated architectures.
    values:
        Their objective values (any scale; only their order matters).
    max_points:
        Fit on at most this many architectures: the best half of them and a random
        sample of the rest, so a study of thousands of trials stays fast.
    rng:
        Source of the subsample.
    budgets:
        Training epochs behind each value (a warm-started network counts its
        ancestors' too); ``None`` when every point had the same.

    Attributes
    ----------
    targets:
        The normal scores of ``values`` (the scale of :meth:`predict`).
    """

    def __init__(
        self,
        space: BaseSpace,
        archs: Sequence[Architecture],
        values: Sequence[float],
        *,
        max_points: int = 400,
        rng: np.random.Generator | None = None,
        budgets: Sequence[float] | None = None,
    ) -> None:
        values = np.asarray(values, dtype=float)
        if len(archs) != len(values) or len(values) < 2:
            raise ValueError("ArchitectureGP needs at least two architectures with one value each.")
        if budgets is not None and len(budgets) != len(values):
            raise ValueError("ArchitectureGP needs one budget per architecture.")
        self._space = space
        self.targets = normal_scores(values)
        rng = rng or np.random.default_rng(0)
        keep = _subsample(self.targets, max_points, rng)
        self._onehot = token_features(space, [archs[i] for i in keep])
        self._counts = token_counts(space, self._onehot)
        self._budget_floor = None
        if budgets is not None and np.ptp(budgets) > 0:
            self._budget_floor = float(np.min(budgets))
        self._budget = self._budget_feature(budgets, len(values))[keep]
        y = self.targets[keep]
        self._mean, self._std = y.mean(), y.std() or 1.0
        z = (y - self._mean) / self._std
        grid = rng.permutation(len(keep))[:_GRID_POINTS]
        self._c, self._b, self._weight, self._scale, noise = self._select(grid, z[grid])
        self._x = _features(self._onehot, self._counts, self._c, self._budget, self._b)
        self._sq = (self._x**2).sum(axis=1)
        self._norm = float(self._sq.mean())
        covariance = self._k(self._x, self._sq) + noise * np.eye(len(z))
        self._cholesky = cho_factor(covariance, lower=True)
        self._alpha = cho_solve(self._cholesky, z)

    def _k(self, x: np.ndarray, sq: np.ndarray) -> np.ndarray:
        """Kernel between ``x`` (with squared norms ``sq``) and the fitted points."""
        return _kernel(x @ self._x.T, sq, self._sq, self._norm, self._weight, self._scale)

    def _budget_feature(self, budgets: Sequence[float] | None, n: int) -> np.ndarray:
        """log2 of each budget over the fitted points' smallest; zeros without budgets."""
        if self._budget_floor is None or budgets is None:
            return np.zeros(n)
        ratio = np.maximum(np.asarray(budgets, dtype=float), 1e-9) / max(self._budget_floor, 1e-9)
        return np.log2(np.maximum(ratio, 1e-9))

    def _select(self, grid: np.ndarray, z: np.ndarray) -> tuple[float, float, float, float, float]:
        """Grid point ``(c, b, w, l, noise)`` of largest log marginal likelihood."""
        best, best_ll = (1.0, 0.0, 0.5, 1.0, 0.1), -np.inf
        scales = _BUDGET if self._budget_floor is not None else (0.0,)
        for c, b in itertools.product(_COMPOSITION, scales):
            x = _features(self._onehot[grid], self._counts[grid], c, self._budget[grid], b)
            inner = x @ x.T
            sq = np.diag(inner).copy()
            for weight, scale in itertools.product(_WEIGHTS, _LENGTHS):
                kernel = _kernel(inner, sq, sq, float(sq.mean()), weight, scale)
                for noise in _NOISES:
                    try:
                        factor = cho_factor(kernel + noise * np.eye(len(z)), lower=True)
                    except np.linalg.LinAlgError:
                        continue
                    ll = -0.5 * z @ cho_solve(factor, z) - np.log(np.diag(factor[0])).sum()
                    if ll > best_ll:
                        best, best_ll = (c, b, weight, scale, noise), ll
        return best

    def predict(
        self, archs: Sequence[Architecture], budgets: Sequence[float] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the normal score of each architecture.

        The mean at an evaluated architecture is its de-noised value: one lucky
        training run is pulled towards what similar architectures achieved.
        ``budgets``: the epochs each will have trained for (ignored by a model fitted
        without differing budgets; missing, the fewest of the fitted points).
        """
        if not archs:
            return np.zeros(0), np.zeros(0)
        cross, sq = self._cross(archs, budgets)
        mean = cross @ self._alpha
        prior = self._weight * sq / self._norm + (1.0 - self._weight)
        var = prior - np.einsum("ij,ji->i", cross, cho_solve(self._cholesky, cross.T))
        return self._mean + self._std * mean, self._std * np.sqrt(np.maximum(var, 1e-12))

    def posterior_mean(
        self, archs: Sequence[Architecture], budgets: Sequence[float] | None = None
    ) -> np.ndarray:
        """:meth:`predict`'s mean alone: the variance's solve costs most of a large batch."""
        if not archs:
            return np.zeros(0)
        cross, _ = self._cross(archs, budgets)
        return self._mean + self._std * (cross @ self._alpha)

    def _cross(
        self, archs: Sequence[Architecture], budgets: Sequence[float] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Kernel between ``archs`` and the fitted points, and the squared feature norms."""
        onehot = token_features(self._space, archs)
        budget = self._budget_feature(budgets, len(archs))
        x = _features(onehot, token_counts(self._space, onehot), self._c, budget, self._b)
        sq = (x**2).sum(axis=1)
        return self._k(x, sq), sq


def _subsample(targets: np.ndarray, max_points: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most ``max_points`` targets: the lowest half, then a random rest."""
    order = np.argsort(targets, kind="stable")
    if len(order) <= max_points:
        return order
    best, rest = order[: max_points // 2], order[max_points // 2 :]
    return np.concatenate([best, rng.choice(rest, max_points - len(best), replace=False)])
