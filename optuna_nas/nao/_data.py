"""What the EPD learns from: token sequences, their symmetric twins, normalised targets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from optuna_nas.encoding import Architecture, BaseSpace


def arch_tokens(space: BaseSpace, arch: Architecture) -> list[int]:
    """Tokens of ``arch`` with every dead op set to ``none`` (the same network).

    Ops that cannot reach the output (NB201) carry no information about the network;
    encoding them as ``none`` gives every architecture with the same live part the
    same embedding.
    """
    return space.to_tokens(arch.without_dead_ops())


def symmetric_twin(arch: Architecture, rng: np.random.Generator) -> Architecture | None:
    """Another encoding of the same network, or ``None`` if the cell has no symmetry.

    - DARTS: a node sums its two ``(input, op)`` branches, so their order is free; each
      node of both cells is swapped with probability 1/2 (NAO's augmentation).
    - NB201: the cell DAG 0 -> {1, 2} -> 3 with edge 1 -> 2 has one automorphism:
      when edge 1 -> 2 is ``none``, nodes 1 and 2 are both "input -> op -> output"
      branches and may be exchanged (edges 0->1 with 0->2 and 1->3 with 2->3).
    """
    if arch.space == "darts":
        cells = {}
        for name, cell in arch.cells_by_name():
            cells[name] = tuple(node[::-1] if rng.random() < 0.5 else node for node in cell)
        twin = arch.replace(**cells)
        return twin if twin.to_json() != arch.to_json() else None
    if arch.space == "nb201":
        (e10,), (e20, e21), (e30, e31, e32) = arch.normal
        if e21[0] != "none" or (e10[0], e31[0]) == (e20[0], e32[0]):
            return None
        normal = (
            ((e20[0], 0),),
            ((e10[0], 0), ("none", 1)),
            ((e30[0], 0), (e32[0], 1), (e31[0], 2)),
        )
        return arch.replace(normal=normal)
    return None


def allowed_masks(space: BaseSpace, sequences: Sequence[Sequence[int]]) -> torch.Tensor:
    """``(N, L, vocab)`` booleans: which tokens the space allows at each position."""
    vocab = len(space.vocabulary)
    masks = torch.zeros(len(sequences), space.sequence_length, vocab, dtype=torch.bool)
    for i, seq in enumerate(sequences):
        for pos in range(space.sequence_length):
            masks[i, pos, space.allowed_tokens(seq[:pos])] = True
    return masks


class RankScale:
    """Maps values to their empirical quantile in the fitted sample, extrapolating linearly.

    Objectives on wildly different scales (error in [0, 1], parameters in millions) and
    heavy tails (diverged networks) become comparable in ``[0, 1]``; the map is monotone,
    so Pareto dominance is unchanged.
    """

    def __init__(self, values: np.ndarray) -> None:
        self._x = np.sort(np.asarray(values, dtype=float))
        n = len(self._x)
        self._q = (np.arange(n) + 0.5) / n
        # Equal values share their mean quantile, so the map stays a function.
        self._x, inverse = np.unique(self._x, return_inverse=True)
        self._q = np.bincount(inverse, self._q) / np.bincount(inverse)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Quantiles of ``values``."""
        return _interp(values, self._x, self._q)

    def inverse(self, quantiles: np.ndarray) -> np.ndarray:
        """Values at ``quantiles`` (the inverse map)."""
        return _interp(quantiles, self._q, self._x)


def _interp(values: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Piecewise-linear ``x -> y`` through the points, extended linearly beyond them."""
    values = np.asarray(values, dtype=float)
    if len(x) == 1:
        return values - x[0] + y[0]
    out = np.interp(values, x, y)
    low, high = values < x[0], values > x[-1]
    out[low] = y[0] + (values[low] - x[0]) * (y[1] - y[0]) / (x[1] - x[0])
    out[high] = y[-1] + (values[high] - x[-1]) * (y[-1] - y[-2]) / (x[-1] - x[-2])
    return out
