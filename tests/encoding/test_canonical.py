"""Memoised canonical forms and fingerprints: the values of the definition, bad input still fails."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from optuna_nas import Architecture, DartsSpace, NB201Space

GOOD = (
    (("nor_conv_3x3", 0),),
    (("none", 0), ("skip_connect", 1)),
    (("none", 0), ("none", 1), ("avg_pool_3x3", 2)),
)


@pytest.mark.parametrize(
    "space",
    [
        NB201Space(channels=(8, 16), cells=(1, 5)),
        DartsSpace(channels=(8, 16), cells=(1, 2), nodes=3),
    ],
    ids=repr,
)
def test_the_fingerprint_is_the_digest_of_the_canonical_json(space) -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        arch = space.sample(rng)
        text = arch.canonical().to_json()
        assert arch.fingerprint == hashlib.sha256(text.encode()).hexdigest()[:20]
        # A new object of the same encoding (a memo hit) and its JSON copy agree.
        assert Architecture.from_json(arch.to_json()).fingerprint == arch.fingerprint
        assert arch.replace(channels=8).fingerprint != arch.replace(channels=16).fingerprint


def test_fingerprints_are_those_of_earlier_releases() -> None:
    # Stored claims and artifacts are keyed by them: they must never change.
    nb201 = NB201Space().from_nb201_string
    first = (
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|avg_pool_3x3~1|skip_connect~2|"
    )
    dead = "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
    darts = Architecture.from_json(
        '{"cells":6,"channels":36,"normal":[[["dil_conv_3x3",0],["sep_conv_5x5",1]],'
        '[["avg_pool_3x3",0],["avg_pool_3x3",2]],[["none",0],["none",1]],'
        '[["dil_conv_3x3",0],["sep_conv_5x5",2]]],"reduce":[[["dil_conv_5x5",0],'
        '["sep_conv_3x3",1]],[["dil_conv_5x5",0],["sep_conv_5x5",2]],[["sep_conv_3x3",1],'
        '["sep_conv_3x3",2]],[["avg_pool_3x3",3],["dil_conv_3x3",4]]],"space":"darts"}'
    )
    assert nb201(first).fingerprint == "f48539b97016065d5b57"
    assert nb201(first).replace(channels=8, cells=1).fingerprint == "190af250f0f0559fcceb"
    assert nb201(dead).fingerprint == "2249e5580b85d343c97c"
    assert darts.fingerprint == "fb4006ab0c0235642bfe"


@pytest.mark.parametrize(
    ("node", "edge", "value"),
    [(0, 0, False), (0, 0, 0.0), (1, 1, True), (2, 2, 2.0)],
)
def test_a_memoised_cell_admits_no_equal_value_of_another_type(node, edge, value) -> None:
    Architecture("nb201", GOOD)  # the valid cell is memoised now
    cell = [list(n) for n in GOOD]
    cell[node][edge] = (cell[node][edge][0], value)
    cell = tuple(tuple(n) for n in cell)
    assert cell == GOOD  # equal, and hashed alike: a memo keyed by value would accept it
    with pytest.raises(ValueError, match=rf"normal\[{node}\] .* edge {edge}: input must be an int"):
        Architecture("nb201", cell)


def test_replace_keeps_the_unchanged_fields_and_validates_the_new_ones() -> None:
    arch = Architecture("nb201", GOOD, channels=8, cells=2)
    wider = arch.replace(channels=16)
    assert wider.normal is arch.normal and (wider.channels, wider.cells) == (16, 2)
    assert arch.replace(normal=[list(map(list, n)) for n in GOOD]).normal == GOOD
    with pytest.raises(ValueError, match="channels: must be a positive int"):
        arch.replace(channels=True)
