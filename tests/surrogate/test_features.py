"""The surrogate's features: equal networks are one point, token counts are exact."""

import numpy as np
import pytest

from optuna_nas import DartsSpace, NB201Space
from optuna_nas.surrogate import composition_features, token_features


@pytest.mark.parametrize("space", [NB201Space(), DartsSpace(nodes=3)], ids=repr)
def test_equal_networks_have_equal_features(space):
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.sample(rng)
        swapped = arch.canonical()  # another encoding of the same network
        features = token_features(space, [arch, swapped, space.sample(rng)])
        assert features.shape == (3, len(space.to_tokens(arch)) * len(space.vocabulary))
        assert np.array_equal(features[0], features[1])
        assert features.sum(axis=1).tolist() == [len(space.to_tokens(arch))] * 3


@pytest.mark.parametrize("space", [NB201Space(), DartsSpace(nodes=3)], ids=repr)
def test_the_composition_counts_each_token_of_the_canonical_network(space):
    rng = np.random.default_rng(1)
    archs = [space.sample(rng) for _ in range(10)]
    counts = composition_features(space, archs + [a.canonical() for a in archs])
    assert counts.shape == (20, len(space.vocabulary))
    assert np.array_equal(counts[:10], counts[10:])
    for arch, row in zip(archs, counts[:10], strict=True):
        tokens = space.to_tokens(arch.canonical())
        assert row.tolist() == [tokens.count(t) for t in range(len(space.vocabulary))]
