"""An architecture's features for the surrogate: one-hot canonical tokens and token counts.

Equal networks have equal features: both are read from the space's token encoding of
the canonical form, so two encodings of one network are one point to the model.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from optuna_nas.encoding import Architecture, BaseSpace


@functools.lru_cache(maxsize=65536)
def _canonical_tokens(space: BaseSpace, arch: Architecture) -> tuple[int, ...]:
    # Keyed by the canonical fingerprint (Architecture's hash): equal networks share it,
    # and a sampler re-reading thousands of trials per call computes each once.
    return tuple(space.to_tokens(arch.canonical()))


def token_features(space: BaseSpace, archs: Sequence[Architecture]) -> np.ndarray:
    """One-hot ``(n, L * V)`` features of the canonical token sequences of ``archs``."""
    tokens = np.array([_canonical_tokens(space, a) for a in archs], dtype=int)
    tokens = tokens.reshape(len(archs), -1)
    width = len(space.vocabulary)
    features = np.zeros((len(archs), tokens.shape[1] * width))
    rows = np.arange(len(archs))[:, None]
    features[rows, np.arange(tokens.shape[1]) * width + tokens] = 1.0
    return features


def composition_features(space: BaseSpace, archs: Sequence[Architecture]) -> np.ndarray:
    """``(n, V)`` counts of each vocabulary token in the canonical token sequences."""
    return token_counts(space, token_features(space, archs))


def token_counts(space: BaseSpace, onehot: np.ndarray) -> np.ndarray:
    """Token counts from one-hot features: the sum over positions."""
    return onehot.reshape(len(onehot), -1, len(space.vocabulary)).sum(axis=1)
