"""Which proposal to evaluate: predicted hypervolume improvement over the evaluated front."""

from __future__ import annotations

import numpy as np
from optuna._hypervolume import compute_hypervolume
from optuna.study._multi_objective import _is_pareto_front


def _hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    points = points[np.all(points < reference, axis=1)]
    if len(points) == 0:
        return 0.0
    if points.shape[1] == 1:
        return float(reference[0] - points.min())
    return float(compute_hypervolume(points, reference))


def improvement_scores(
    observed: np.ndarray,
    candidates: np.ndarray,
    predicted: np.ndarray,
    margin: float = 0.1,
) -> np.ndarray:
    """How much each candidate would improve the front of ``observed`` (all minimised).

    Every objective is scaled so that the front's ideal is 0 and its nadir 1. A
    candidate that would be non-dominated scores its hypervolume improvement (> 0),
    with the reference point ``margin`` beyond the worst non-dominated point, and in
    the exact objectives (the costs) also beyond the worst candidate, dominated or
    not: a reference just past the most extreme newcomer would credit a network
    larger than any on the front with a sliver ``margin`` wide however good it is,
    so a front that has not yet spanned the space would not grow towards its large
    end. A dominated candidate scores minus how much its predicted objectives would
    have to improve to leave the dominated region (its exact ones cannot change),
    so near-misses rank before far ones.

    Parameters
    ----------
    observed:
        ``(N, M)`` objective values of the evaluated architectures (N >= 1).
    candidates:
        ``(C, M)`` values of the proposals on the same scale, exact or predicted.
    predicted:
        ``(M,)`` booleans: which objectives of ``candidates`` are predictions.
    margin:
        Distance of the reference point beyond the front's nadir (scaled).

    Returns
    -------
    numpy.ndarray
        ``(C,)`` scores; larger is better.
    """
    front = observed[_is_pareto_front(observed, assume_unique_lexsorted=False)]
    ideal, span = front.min(axis=0), front.max(axis=0) - front.min(axis=0)
    span = np.where(span > 0, span, np.ptp(observed, axis=0))
    span = np.where(span > 0, span, 1.0)
    front, points = (front - ideal) / span, (candidates - ideal) / span
    needed = np.array([_needed(point, front, predicted) for point in points])
    # The front may grow past its current extremes: the reference point lies beyond
    # every point that would be non-dominated, as it lies beyond the true front's nadir.
    extremes = np.vstack([front, points[needed < 0]])
    reference = extremes.max(axis=0) + margin
    exact = ~np.asarray(predicted, dtype=bool)
    reference[exact] = np.maximum(reference[exact], points[:, exact].max(axis=0) + margin)
    base = _hypervolume(front, reference)
    scores = -needed - 1e-12
    for i in np.flatnonzero(needed < 0):
        scores[i] = _hypervolume(np.vstack([front, points[i]]), reference) - base
    return scores


def _needed(point: np.ndarray, front: np.ndarray, predicted: np.ndarray) -> float:
    """How much the predicted objectives of ``point`` must improve to escape ``front``.

    Front points at least as good in every exact objective block ``point``; only its
    predicted objectives can escape them, by getting strictly better in one of them.
    Negative when nothing blocks it.
    """
    blocking = front[np.all(front[:, ~predicted] <= point[~predicted], axis=1)]
    gap = (point - blocking)[:, predicted]
    return float(np.max(np.min(gap, axis=1), initial=-np.inf)) if gap.size else -np.inf
