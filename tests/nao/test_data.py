import numpy as np
import pytest
import torch

from optuna_nas import DartsSpace, NB201Space
from optuna_nas.nao._data import RankScale, allowed_masks, arch_tokens, symmetric_twin

SPACES = [NB201Space(), DartsSpace(channels=[16, 36], cells=[1, 2])]


@pytest.mark.parametrize("space", SPACES, ids=lambda s: s.kind)
def test_twins_are_the_same_network_with_other_tokens(space):
    rng = np.random.default_rng(0)
    twins = 0
    for _ in range(200):
        arch = space.sample(rng).without_dead_ops()
        twin = symmetric_twin(arch, rng)
        if twin is None:
            continue
        twins += 1
        assert twin == arch  # same canonical fingerprint
        assert space.to_tokens(twin) != space.to_tokens(arch)
        assert space.from_tokens(space.to_tokens(twin)) == arch
    assert twins > 20


def test_an_nb201_cell_has_a_twin_only_when_edge_1_to_2_is_none():
    space = NB201Space()
    rng = np.random.default_rng(0)
    with_edge = space.from_nb201_string(
        "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|skip_connect~1|avg_pool_3x3~2|"
    )
    assert symmetric_twin(with_edge, rng) is None
    without = space.from_nb201_string(
        "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|"
    )
    twin = symmetric_twin(without, rng)
    assert space.nb201_string(twin) == (
        "|skip_connect~0|+|nor_conv_3x3~0|none~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|"
    )


def test_dead_ops_are_encoded_as_none():
    space = NB201Space()
    # Node 1 feeds nothing (edges 1->2 and 1->3 are none), so edge 0->1 is dead.
    arch = space.from_nb201_string(
        "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|"
    )
    assert arch_tokens(space, arch)[0] == space.ops.index("none")


@pytest.mark.parametrize("space", SPACES, ids=lambda s: s.kind)
def test_masks_are_the_allowed_tokens(space):
    rng = np.random.default_rng(1)
    seqs = [space.to_tokens(space.sample(rng)) for _ in range(5)]
    masks = allowed_masks(space, seqs)
    assert masks.shape == (5, space.sequence_length, len(space.vocabulary))
    for seq, mask in zip(seqs, masks, strict=True):
        for pos in range(space.sequence_length):
            assert torch.nonzero(mask[pos]).flatten().tolist() == space.allowed_tokens(seq[:pos])


def test_rank_scale_is_monotone_and_invertible():
    values = np.array([0.9, 0.1, 0.1, 0.3, 5.0])
    scale = RankScale(values)
    q = scale(values)
    assert np.all((q > 0) & (q < 1))
    assert q[1] == q[2]  # ties share a quantile
    grid = np.linspace(-1.0, 7.0, 50)  # beyond both ends: linear extrapolation
    assert np.all(np.diff(scale(grid)) > 0)
    np.testing.assert_allclose(scale.inverse(scale(grid)), grid)
